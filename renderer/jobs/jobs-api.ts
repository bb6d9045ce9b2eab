import { z } from 'zod';
import { JobDetail, JobList, JobPreview, isErrorCode, type DeviceSelection, type JobCreateRequestInput } from '../../protocol/index.js';
import { ApiError } from '../api/api-client.js';

/** The jobs part of the REST API; every answer is parsed with its protocol schema. */
export interface JobsApi {
  preview(selection: DeviceSelection): Promise<JobPreview>;
  create(request: JobCreateRequestInput): Promise<JobDetail>;
  list(): Promise<JobList>;
  get(id: string): Promise<JobDetail>;
  cancel(id: string): Promise<JobDetail>;
}

const ErrorBody = z.object({ code: z.string(), message: z.string() });

export function createJobsApi(options: { fetch?: typeof fetch; timeoutMs?: number } = {}): JobsApi {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  async function call<T>(schema: z.ZodType<T, unknown>, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await doFetch(`/api/v1${path}`, {
        method,
        credentials: 'same-origin',
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
    } catch (cause) {
      throw new ApiError('NETWORK', `Cannot reach the backend (${cause instanceof Error ? cause.message : String(cause)})`, 0);
    }
    let json: unknown;
    try {
      json = JSON.parse(await response.text());
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const err = ErrorBody.safeParse(json);
      if (err.success && isErrorCode(err.data.code)) throw new ApiError(err.data.code, err.data.message, response.status);
      throw new ApiError('BAD_RESPONSE', `The backend answered HTTP ${response.status}`, response.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ApiError('BAD_RESPONSE', `Unexpected answer from ${path}`, response.status);
    return parsed.data;
  }
  return {
    preview: (selection) => call(JobPreview, 'POST', '/jobs/preview', { selection }),
    create: (request) => call(JobDetail, 'POST', '/jobs', request),
    list: () => call(JobList, 'GET', '/jobs'),
    get: (id) => call(JobDetail, 'GET', `/jobs/${id}`),
    cancel: (id) => call(JobDetail, 'POST', `/jobs/${id}/cancel`),
  };
}
