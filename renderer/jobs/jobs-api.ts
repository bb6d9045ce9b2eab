import type { DeviceSelection, JobCreateRequestInput, JobDetail, JobList, JobPreview } from '../../protocol/index.js';
import { createJsonRequest } from '../api/json-request.js';

/** The jobs part of the REST API; every answer is parsed with its protocol schema. */
export interface JobsApi {
  preview(selection: DeviceSelection): Promise<JobPreview>;
  create(request: JobCreateRequestInput): Promise<JobDetail>;
  list(): Promise<JobList>;
  get(id: string): Promise<JobDetail>;
  cancel(id: string): Promise<JobDetail>;
}

export function createJobsApi(options: { fetch?: typeof fetch; timeoutMs?: number } = {}): JobsApi {
  const call = createJsonRequest(options);
  // The jobs schemas load with the first jobs request, not with the fleet's first screen.
  const schemas = () => import('../../protocol/jobs.js');
  return {
    preview: async (selection) => call((await schemas()).JobPreview, 'POST', '/jobs/preview', { selection }),
    create: async (request) => call((await schemas()).JobDetail, 'POST', '/jobs', request),
    list: async () => call((await schemas()).JobList, 'GET', '/jobs'),
    get: async (id) => call((await schemas()).JobDetail, 'GET', `/jobs/${id}`),
    cancel: async (id) => call((await schemas()).JobDetail, 'POST', `/jobs/${id}/cancel`),
  };
}
