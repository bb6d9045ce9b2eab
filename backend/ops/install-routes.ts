import { execFile } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { TetherError } from '../../protocol/index.js';

type Api = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

const ROOT = resolve(import.meta.dirname, '..', '..');
/** Where `npm run build:agent` writes the bundle. */
export const DEFAULT_AGENT_DIST_DIR = join(ROOT, 'dist', 'agent');
const INSTALL_SCRIPT = join(ROOT, 'build', 'agent', 'install.sh');
const BUILD_SCRIPT = join(ROOT, 'build', 'agent', 'build.ts');
const BUILD_TIMEOUT_MS = 120_000;

export interface InstallRoutesDeps {
  caCertPem: string;
  /** Folder holding tether-agent.tar.gz; built on the first download when it is missing. */
  agentDistDir: string;
  log: Logger;
}

/**
 * What a device needs to join with one line: `/install.sh`, the CA certificate it checks
 * against the pin, and the agent bundle. All public: none of them is a secret, and the
 * registration token travels only in the later, pinned `register` call.
 */
export function registerInstallRoutes(api: Api, deps: InstallRoutesDeps): void {
  let building: Promise<void> | null = null;
  const tarball = join(deps.agentDistDir, 'tether-agent.tar.gz');

  api.get('/install.sh', { schema: { hide: true } }, async (_request, reply) => {
    void reply.header('content-type', 'text/x-shellscript; charset=utf-8').header('cache-control', 'no-cache');
    return readFileSync(INSTALL_SCRIPT, 'utf8');
  });

  api.get('/ca.crt', { schema: { hide: true } }, async (_request, reply) => {
    void reply.header('content-type', 'application/x-pem-file');
    return deps.caCertPem;
  });

  api.get('/agent/tether-agent.tar.gz', { schema: { hide: true } }, async (_request, reply) => {
    if (!existsSync(tarball)) {
      // One build at a time, however many devices ask at once.
      building ??= buildBundle(deps).finally(() => {
        building = null;
      });
      await building;
    }
    void reply.header('content-type', 'application/gzip').header('cache-control', 'no-cache');
    return reply.send(createReadStream(tarball));
  });
}

function buildBundle(deps: InstallRoutesDeps): Promise<void> {
  deps.log.info({ out: deps.agentDistDir }, 'building the agent bundle on first download');
  return new Promise((done, fail) => {
    execFile(process.execPath, ['--import', 'tsx', BUILD_SCRIPT, deps.agentDistDir], { cwd: ROOT, timeout: BUILD_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err) {
        deps.log.error({ err, stderr }, 'agent bundle build failed');
        fail(new TetherError('NOT_FOUND', 'The agent bundle is not built and could not be built here: run `npm run build:agent`'));
      } else done();
    });
  });
}
