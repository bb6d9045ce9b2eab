import { JobDetail, JobList, JobPreview, type DeviceSelection, type JobCreateRequestInput } from '../../protocol/index.js';
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
  return {
    preview: (selection) => call(JobPreview, 'POST', '/jobs/preview', { selection }),
    create: (request) => call(JobDetail, 'POST', '/jobs', request),
    list: () => call(JobList, 'GET', '/jobs'),
    get: (id) => call(JobDetail, 'GET', `/jobs/${id}`),
    cancel: (id) => call(JobDetail, 'POST', `/jobs/${id}/cancel`),
  };
}
