import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { BackendMetrics } from './backend-metrics.js';

/**
 * Prometheus `/metrics`. Like `/healthz` it needs no login, so a scraper needs no user account;
 * it reveals counts, not fleet data. Put it behind the reverse proxy or firewall that fronts
 * the scraper when that is too much (README, Deployment).
 */
type Api = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export function registerOpsRoutes(app: Api, deps: { metrics: Pick<BackendMetrics, 'registry' | 'observeHttp'> }): void {
  const { registry, observeHttp } = deps.metrics;
  app.addHook('onResponse', async (request, reply) => {
    // Unmatched URLs share one label: anyone can invent them, and each would be a new series.
    const route = request.routeOptions.url ?? 'unmatched';
    observeHttp({ method: request.method, route, statusCode: reply.statusCode, seconds: reply.elapsedTime / 1000 });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
