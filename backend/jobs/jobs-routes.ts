import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DeviceId, JobCreateRequest, JobDetail, JobList, JobPreview, JobPreviewRequest, Run, RunCreateRequest, TetherError, type Role, type User } from '../../protocol/index.js';
import type { DeviceAccess } from '../auth/device-access.js';
import type { JobScheduler } from './job-scheduler.js';
import type { RunService } from './run-service.js';

type ZodApi = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface JobRouteDeps {
  runs: RunService;
  jobs: JobScheduler;
  auth(request: FastifyRequest, role?: Role): { user: User };
  /** auth plus the device's existence and the user's scope. */
  authDevice(request: FastifyRequest, role: Role, deviceId: string): { user: User };
  access: DeviceAccess;
}

const DeviceParams = z.object({ id: DeviceId });
const IdParams = z.object({ id: z.string().uuid() });
const Limit = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50) });

/** One-off commands on a device and fleet jobs. Running anything needs the operator role. */
export function registerJobRoutes(api: ZodApi, deps: JobRouteDeps): void {
  api.post('/api/v1/devices/:id/commands', { schema: { tags: ['commands'], params: DeviceParams, body: RunCreateRequest, response: { 200: Run } } }, async (request) => {
    const { user } = deps.authDevice(request, 'operator', request.params.id);
    const { wait, ...command } = request.body;
    return deps.runs.runOne(`user:${user.username}`, request.params.id, command, wait ?? false);
  });
  api.get('/api/v1/devices/:id/runs', { schema: { tags: ['commands'], params: DeviceParams, querystring: Limit, response: { 200: z.object({ runs: z.array(Run) }) } } }, async (request) => {
    deps.authDevice(request, 'operator', request.params.id);
    return { runs: await deps.runs.ofDevice(request.params.id, request.query.limit) };
  });
  /** A run exists for a user only when its device is in the user's scope. */
  const visibleRun = async (user: User, runId: string): Promise<Run> => {
    const run = await deps.runs.view(runId);
    if (user.scope && !deps.access.sees(user, run.deviceId)) throw new TetherError('NOT_FOUND', 'No such run');
    return run;
  };
  api.get('/api/v1/runs/:id', { schema: { tags: ['commands'], params: IdParams, response: { 200: Run } } }, async (request) => {
    const { user } = deps.auth(request, 'operator');
    return visibleRun(user, request.params.id);
  });
  api.post('/api/v1/runs/:id/cancel', { schema: { tags: ['commands'], params: IdParams, response: { 200: Run } } }, async (request) => {
    const { user } = deps.auth(request, 'operator');
    await visibleRun(user, request.params.id);
    if (!(await deps.runs.cancel(request.params.id, `user:${user.username}`))) throw new TetherError('CONFLICT', 'The run is not running');
    return deps.runs.view(request.params.id);
  });

  api.post('/api/v1/jobs/preview', { schema: { tags: ['jobs'], body: JobPreviewRequest, response: { 200: JobPreview } } }, async (request) => {
    const { user } = deps.auth(request, 'operator');
    return deps.jobs.preview(request.body.selection, (d) => deps.access.sees(user, d.id));
  });
  api.post('/api/v1/jobs', { schema: { tags: ['jobs'], body: JobCreateRequest, response: { 200: JobDetail } } }, async (request) => {
    const { user } = deps.auth(request, 'operator');
    return deps.jobs.create(`user:${user.username}`, request.body, (d) => deps.access.sees(user, d.id));
  });
  api.get('/api/v1/jobs', { schema: { tags: ['jobs'], querystring: Limit, response: { 200: JobList } } }, async (request) => {
    deps.auth(request);
    return { jobs: await deps.jobs.list(request.query.limit) };
  });
  api.get('/api/v1/jobs/:id', { schema: { tags: ['jobs'], params: IdParams, response: { 200: JobDetail } } }, async (request) => {
    const { user } = deps.auth(request, 'operator');
    const job = await deps.jobs.detail(request.params.id);
    return { ...job, runs: deps.access.filter(user, job.runs, (r) => r.deviceId) };
  });
  api.post('/api/v1/jobs/:id/cancel', { schema: { tags: ['jobs'], params: IdParams, response: { 200: JobDetail } } }, async (request) => {
    const { user } = deps.auth(request, 'operator');
    return deps.jobs.cancel(request.params.id, `user:${user.username}`);
  });
}
