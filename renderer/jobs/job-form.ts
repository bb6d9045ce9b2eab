import type { DeviceSelection, JobCreateRequestInput } from '../../protocol/index.js';

/** The jobs form as typed: strings, parsed on submit. */
export interface JobFormValues {
  command: string;
  /** `key=value` pairs separated by spaces or commas. */
  tags: string;
  query: string;
  batchSize: string;
  concurrency: string;
  maxFailurePercent: string;
  timeoutSeconds: string;
  queueOffline: boolean;
}

export const EMPTY_JOB_FORM: JobFormValues = { command: '', tags: '', query: '', batchSize: '', concurrency: '10', maxFailurePercent: '', timeoutSeconds: '60', queueOffline: false };

/** The selection the form names, or an error to show. */
export function selectionOf(values: JobFormValues): DeviceSelection | string {
  const tags: Record<string, string> = {};
  for (const pair of values.tags.split(/[\s,]+/).filter(Boolean)) {
    const [k, ...v] = pair.split('=');
    if (!k) return `Bad tag ${pair}`;
    tags[k] = v.join('=');
  }
  const query = values.query.trim();
  if (Object.keys(tags).length === 0 && query === '') return 'Choose devices by tags or a search';
  return { ...(Object.keys(tags).length > 0 ? { tags } : {}), ...(query ? { query } : {}) };
}

/** The job request, or an error to show. */
export function requestOf(values: JobFormValues): JobCreateRequestInput | string {
  const selection = selectionOf(values);
  if (typeof selection === 'string') return selection;
  if (values.command.trim() === '') return 'Enter a command';
  const int = (s: string) => (s.trim() === '' ? undefined : Number(s));
  const batchSize = int(values.batchSize);
  const concurrency = int(values.concurrency) ?? 10;
  const percent = int(values.maxFailurePercent);
  const timeout = int(values.timeoutSeconds) ?? 60;
  for (const n of [batchSize, concurrency, percent, timeout]) if (n !== undefined && (!Number.isInteger(n) || n < 0)) return 'Numbers must be whole and positive';
  return {
    selection,
    command: { shell: values.command },
    timeoutMs: timeout * 1000,
    concurrency,
    ...(batchSize ? { batchSize } : {}),
    ...(percent !== undefined ? { maxFailureRatio: Math.min(100, percent) / 100 } : {}),
    queueOffline: values.queueOffline,
  };
}
