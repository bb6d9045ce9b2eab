import { describe, expect, it } from 'vitest';
import { JobCreateRequest } from '../../protocol/index.js';
import { EMPTY_JOB_FORM, requestOf } from './job-form.js';

describe('requestOf', () => {
  it('builds a request the backend schema accepts', () => {
    const req = requestOf({ ...EMPTY_JOB_FORM, command: 'uname -a', tags: 'site=paris, role=arm', batchSize: '5', maxFailurePercent: '20' });
    expect(typeof req).toBe('object');
    const parsed = JobCreateRequest.parse(req);
    expect(parsed).toMatchObject({ selection: { tags: { site: 'paris', role: 'arm' } }, batchSize: 5, maxFailureRatio: 0.2, timeoutMs: 60_000, command: { shell: 'uname -a' } });
  });

  it('explains what is missing', () => {
    expect(requestOf({ ...EMPTY_JOB_FORM, command: 'x' })).toMatch(/Choose devices/);
    expect(requestOf({ ...EMPTY_JOB_FORM, query: 'a' })).toMatch(/command/);
    expect(requestOf({ ...EMPTY_JOB_FORM, query: 'a', command: 'x', batchSize: '1.5' })).toMatch(/whole/);
  });
});
