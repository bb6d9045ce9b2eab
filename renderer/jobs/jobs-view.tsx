import { useCallback, useEffect, useState } from 'react';
import type { Job, JobCreateRequestInput, JobDetail, RunState } from '../../protocol/index.js';
import { useDevice } from '../fleet/fleet-hooks.js';
import { countNoun } from '../format/count-noun.js';
import { createJobsApi } from './jobs-api.js';
import { EMPTY_JOB_FORM, requestOf, type JobFormValues } from './job-form.js';
import '../shell/shell.css';

const api = createJobsApi();
const POLL_MS = 1000;
const BAR_STATES: RunState[] = ['succeeded', 'failed', 'timed_out', 'cancelled', 'expired', 'running'];

/** Fleet jobs: compose, confirm with the number of devices touched, then watch progress per device. */
export function JobsView({ jobId }: { jobId?: string } = {}) {
  const [values, setValues] = useState<JobFormValues>(EMPTY_JOB_FORM);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<{ request: JobCreateRequestInput; count: number; online: number } | null>(null);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [selected, setSelected] = useState<JobDetail | null>(null);
  const selectedId = selected?.id ?? null;

  const refresh = useCallback(async () => {
    try {
      setJobs((await api.list()).jobs);
      if (selectedId) setSelected(await api.get(selectedId));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }, [selectedId]);

  useEffect(() => {
    if (jobId === undefined) return;
    api.get(jobId).then(setSelected, (err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, [jobId]);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), POLL_MS);
    return () => clearInterval(timer);
  }, [refresh]);

  const review = async () => {
    setError(null);
    const request = requestOf(values);
    if (typeof request === 'string') return setError(request);
    try {
      const preview = await api.preview(request.selection);
      if (preview.count === 0) return setError('The selection matches no device');
      setPending({ request, count: preview.count, online: preview.online });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const start = async () => {
    if (!pending) return;
    try {
      const job = await api.create(pending.request);
      setPending(null);
      setSelected(job);
      await refresh();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const field = (key: keyof JobFormValues) => ({
    value: String(values[key]),
    onChange: (e: React.ChangeEvent<HTMLInputElement>) => setValues({ ...values, [key]: e.target.value }),
  });

  return (
    <section className="jobs-view" data-testid="jobs-view">
      <h2>Jobs</h2>
      <form onSubmit={(e) => { e.preventDefault(); void review(); }}>
        <label className="wide">Command (run by /bin/sh -c)<input data-testid="job-command" {...field('command')} placeholder="uname -a" /></label>
        <label>Tags (k=v)<input data-testid="job-tags" {...field('tags')} placeholder="site=paris" /></label>
        <label>or search<input data-testid="job-query" {...field('query')} placeholder="name, id, host, tag" /></label>
        <label>Batch size<input data-testid="job-batch" {...field('batchSize')} inputMode="numeric" placeholder="all" /></label>
        <label>Concurrency<input data-testid="job-concurrency" {...field('concurrency')} inputMode="numeric" /></label>
        <label>Abort above failure %<input data-testid="job-failure" {...field('maxFailurePercent')} inputMode="numeric" placeholder="never" /></label>
        <label>Timeout (s)<input {...field('timeoutSeconds')} inputMode="numeric" /></label>
        <label>
          <span><input type="checkbox" checked={values.queueOffline} onChange={(e) => setValues({ ...values, queueOffline: e.target.checked })} /> Wait for offline devices (1 h)</span>
        </label>
        <button type="submit" data-testid="job-review">Review…</button>
      </form>
      {error && <p role="alert" className="error" data-testid="job-error">{error}</p>}
      {pending && (
        <div className="job-confirm" role="dialog" aria-label="Confirm job" data-testid="job-confirm">
          <p data-testid="job-confirm-count">
            This job will run on <strong>{countNoun(pending.count, 'device')}</strong> ({pending.online} online now).
          </p>
          <button type="button" data-testid="job-start" onClick={() => void start()}>Run on {countNoun(pending.count, 'device')}</button>{' '}
          <button type="button" onClick={() => setPending(null)}>Cancel</button>
        </div>
      )}
      {jobs.length === 0 ? (
        <div className="empty-state" data-testid="jobs-empty">
          <p><strong>No jobs yet.</strong> A job runs one command on many devices at once — chosen by tags or a search — in batches, with a failure limit, and shows each device&apos;s output and exit code.</p>
          <p>Write a command above and choose the devices, then <em>Review…</em> shows how many it touches before anything runs. You can also select devices in the fleet and run a command on the selection.</p>
        </div>
      ) : (
      <table className="data-table jobs-table">
        <thead><tr><th>Started</th><th>Command</th><th>State</th><th>Progress</th><th /></tr></thead>
        <tbody>
          {jobs.map((job) => (
            <tr key={job.id} data-testid="job-row" data-job-id={job.id} data-state={job.state} aria-selected={job.id === selectedId}>
              <td>{new Date(job.createdAt).toLocaleTimeString()}</td>
              <td><code>{'shell' in job.command.command ? job.command.command.shell : job.command.command.argv.join(' ')}</code></td>
              <td data-testid="job-state">{job.state}{job.reason ? ` — ${job.reason}` : ''}</td>
              <td><Progress job={job} /></td>
              <td>
                <button type="button" onClick={() => void api.get(job.id).then(setSelected)}>Details</button>
                {job.state === 'running' && <button type="button" onClick={() => void api.cancel(job.id).then(setSelected)}>Cancel</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      )}
      {selected && <JobRuns job={selected} />}
    </section>
  );
}

function Progress({ job }: { job: Job }) {
  const done = job.total - (job.counts.queued ?? 0) - (job.counts.running ?? 0);
  return (
    <span className="job-progress-wrap" data-testid="job-progress" data-done={done} data-total={job.total}>
      <span className="job-progress" role="progressbar" aria-label={`${done} of ${countNoun(job.total, 'device')} done`} aria-valuemin={0} aria-valuemax={job.total} aria-valuenow={done}>
        {BAR_STATES.map((state) => (job.counts[state] ?? 0) > 0 && <span key={state} className={state} style={{ width: `${((job.counts[state] ?? 0) / job.total) * 100}%` }} title={`${job.counts[state]} ${state}`} />)}
      </span>{' '}
      {done}/{job.total}
    </span>
  );
}

function JobRuns({ job }: { job: JobDetail }) {
  const command = 'shell' in job.command.command ? job.command.command.shell : job.command.command.argv.join(' ');
  return (
    <>
    <h3 className="job-title" data-testid="job-title" title={job.id}>
      <code>{command}</code> <span className="muted">· started {new Date(job.createdAt).toLocaleString()} · {countNoun(job.total, 'device')} · {job.state}</span>
    </h3>
    <table className="data-table job-runs" data-testid="job-runs">
      <thead><tr><th>Batch</th><th>Device</th><th>State</th><th>Exit</th><th>Output</th></tr></thead>
      <tbody>
        {job.runs.map((run) => (
          <tr key={run.id} data-testid="job-run" data-state={run.state}>
            <td>{(run.batch ?? 0) + 1}</td>
            <DeviceNameCell id={run.deviceId} />
            <td>{run.state}</td>
            <td>{run.exitCode ?? run.signal ?? ''}</td>
            <td>
              <pre className="job-output" data-testid="job-run-output">{run.stdout}{run.stderr}{run.error ? `\n${run.error}` : ''}</pre>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    </>
  );
}

/** A device's name where people read it; the id in the tooltip (a device removed since shows its id). */
function DeviceNameCell({ id }: { id: string }) {
  const name = useDevice(id)?.name;
  return (
    <td className="ellipsis" title={id} data-testid="job-run-device">
      {name ?? id}
    </td>
  );
}
