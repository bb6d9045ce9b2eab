import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { MetricsRegistry } from './metrics-registry.js';
import { PROMETHEUS_CONTENT_TYPE } from './metrics-registry.js';

/**
 * Prometheus `/metrics`. Like `/healthz` it needs no login, so a scraper needs no user account;
 * it reveals counts, not fleet data. Put it behind the reverse proxy or firewall that fronts
 * the scraper when that is too much (README, Deployment).
 */
type Api = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export function registerOpsRoutes(app: Api, deps: { metrics: MetricsRegistry }): void {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    void reply.header('content-type', PROMETHEUS_CONTENT_TYPE);
    return deps.metrics.render();
  });
}
