import { useEffect, useState } from 'react';
import { Run, isErrorCode } from '../../protocol/index.js';

const POLL_MS = 300;

async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Run> {
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const code = typeof json === 'object' && json !== null && 'code' in json && isErrorCode(json.code) ? json.code : `HTTP ${res.status}`;
    throw new Error(code);
  }
  return Run.parse(json);
}

/** One-off command on this device: output while it runs, exit code, cancel. */
export function CommandPanel({ deviceId }: { deviceId: string }) {
  const [command, setCommand] = useState('');
  const [timeoutS, setTimeoutS] = useState('60');
  const [run, setRun] = useState<Run | null>(null);
  const [error, setError] = useState<string | null>(null);
  const active = run !== null && (run.state === 'running' || run.state === 'queued');

  useEffect(() => {
    if (!active || !run) return;
    const timer = setInterval(() => {
      call('GET', `/runs/${run.id}`).then(setRun, (err: unknown) => setError(String(err)));
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [active, run]);

  const start = () => {
    setError(null);
    call('POST', `/devices/${deviceId}/commands`, { command: { shell: command }, timeoutMs: Math.max(1, Number(timeoutS) || 60) * 1000 }).then(setRun, (err: unknown) => setError(String(err)));
  };

  return (
    <details className="command-panel" data-testid="command-panel">
      <summary>Run a command</summary>
      <form onSubmit={(e) => { e.preventDefault(); if (command.trim()) start(); }}>
        <input data-testid="command-input" value={command} onChange={(e) => setCommand(e.target.value)} placeholder="journalctl -n 50" aria-label="Command" />{' '}
        <input value={timeoutS} onChange={(e) => setTimeoutS(e.target.value)} inputMode="numeric" aria-label="Timeout in seconds" size={4} /> s{' '}
        <button type="submit" data-testid="command-run" disabled={active}>Run</button>{' '}
        {active && run && <button type="button" data-testid="command-cancel" onClick={() => void call('POST', `/runs/${run.id}/cancel`).then(setRun, (err: unknown) => setError(String(err)))}>Cancel</button>}
      </form>
      {error && <p role="alert">{error}</p>}
      {run && (
        <div data-testid="command-result" data-state={run.state}>
          <span>{run.state}{run.exitCode !== null ? ` · exit ${run.exitCode}` : ''}{run.signal ? ` · ${run.signal}` : ''}{run.truncated ? ' · output truncated' : ''}</span>
          <pre className="job-output" data-testid="command-stdout">{run.stdout}</pre>
          {run.stderr && <pre className="job-output command-stderr" data-testid="command-stderr">{run.stderr}</pre>}
          {run.error && <p role="alert">{run.error}</p>}
        </div>
      )}
    </details>
  );
}
