import { useState } from 'react';
import { useStore } from 'zustand';
import { useCurrentUser } from '../auth/auth-hooks.js';
import { toUiError } from '../api/ui-error.js';
import type { JobsApi } from '../jobs/jobs-api.js';
import { jobHash } from '../shell/shell-route.js';
import type { DevicesApi } from './devices-api.js';
import { useFleetUiStore } from './fleet-ui-hooks.js';
import { TagEditor } from './tag-editor.js';

/** Actions on the checked rows: tags, a command as a job, revoke (after a confirmation naming the count). */
export function BulkActions({ devicesApi, jobsApi }: { devicesApi: DevicesApi; jobsApi: Pick<JobsApi, 'create'> }) {
  const ui = useFleetUiStore();
  const selected = useStore(ui, (s) => s.selected);
  const user = useCurrentUser();
  const [command, setCommand] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (selected.size === 0) return null;
  const ids = [...selected];
  const count = `${ids.length} ${ids.length === 1 ? 'device' : 'devices'}`;

  const runCommand = async (): Promise<void> => {
    if (command.trim() === '') return setError('Type a command to run');
    setBusy(true);
    setError(null);
    try {
      const job = await jobsApi.create({ selection: { deviceIds: ids }, command: { shell: command }, timeoutMs: 60_000 });
      window.location.hash = jobHash(job.id);
    } catch (err) {
      setError(toUiError(err).message);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await devicesApi.revoke(ids);
      setConfirming(false);
      ui.getState().clearSelection();
    } catch (err) {
      setError(toUiError(err).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="bulk-bar" data-testid="bulk-actions" role="region" aria-label="Bulk actions">
      <strong data-testid="bulk-count">{count} selected</strong>
      {/* Viewers may select (to count, to read) but not change anything; the backend refuses them anyway. */}
      {user?.role !== 'viewer' && <TagEditor ids={ids} api={devicesApi} testId="bulk-tags" />}
      {user?.role !== 'viewer' && (
        <form
          className="bulk-command"
          onSubmit={(event) => {
            event.preventDefault();
            void runCommand();
          }}
        >
          <input value={command} onChange={(e) => setCommand(e.target.value)} placeholder="command" aria-label="Command" data-testid="bulk-command-input" disabled={busy} />
          <button type="submit" data-testid="bulk-command-run" disabled={busy}>
            Run
          </button>
        </form>
      )}
      {user?.role === 'admin' && (
        <button type="button" className="danger" data-testid="bulk-revoke" disabled={busy} onClick={() => setConfirming(true)}>
          Revoke…
        </button>
      )}
      <button type="button" className="link" data-testid="bulk-clear" onClick={() => ui.getState().clearSelection()}>
        Clear
      </button>
      {error !== null && (
        <p className="form-error" role="alert" data-testid="bulk-error">
          {error}
        </p>
      )}
      {confirming && (
        <div className="overlay" role="presentation">
          <div className="dialog" role="alertdialog" aria-modal="true" aria-labelledby="revoke-title" data-testid="revoke-dialog">
            <h3 id="revoke-title">
              Revoke <span data-testid="revoke-count">{count}</span>?
            </h3>
            <p>Revoked devices are disconnected at once and can no longer connect. This cannot be undone.</p>
            <div className="dialog-actions">
              <button type="button" onClick={() => setConfirming(false)} data-testid="revoke-cancel" autoFocus>
                Cancel
              </button>
              <button type="button" className="danger" onClick={() => void revoke()} disabled={busy} data-testid="revoke-confirm">
                Revoke {count}
              </button>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
