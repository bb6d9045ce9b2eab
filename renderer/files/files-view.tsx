import { escapeControlCharacters as visible, type FileEntry } from '../../protocol/index.js';
import { useEffect, useRef, useState, type DragEvent } from 'react';
import { useStore } from 'zustand';
import type { UiError } from '../api/ui-error.js';
import { DeviceLinks } from '../fleet/device-links.js';
import { useDevice } from '../fleet/fleet-hooks.js';
import { formatBytes } from '../metrics/metric-format.js';
import { createFilesApi } from './files-api.js';
import { formatMode } from './file-mode.js';
import { MAX_BROWSER_DOWNLOAD_BYTES, createFilesStore, type FilesState, type FilesStore, type Transfer } from './files-store.js';
import './files.css';

const lastDirectoryKey = (deviceId: string) => `tether.files.directory.${deviceId}`;

function lastDirectory(deviceId: string): string | undefined {
  try {
    return localStorage.getItem(lastDirectoryKey(deviceId)) ?? undefined;
  } catch {
    return undefined; // storage disabled: start at the default
  }
}

function rememberDirectory(deviceId: string, path: string): void {
  try {
    localStorage.setItem(lastDirectoryKey(deviceId), path);
  } catch {
    // storage disabled or full: the next visit starts at the default
  }
}

/** A device's files: browse its allowed directories, upload (picker or drop), download, with progress, cancel and resume. */
export function FilesView({ deviceId }: { deviceId: string }) {
  // One store per opened view: the transfers belong to this device's page.
  const [store] = useState(() => createFilesStore({ api: createFilesApi(), deviceId, initialPath: lastDirectory(deviceId) }));
  const device = useDevice(deviceId);
  const open = useStore(store, (s) => s.open);
  useEffect(() => {
    void open(store.getState().path);
    // The next visit to this device's files starts in the last directory listed.
    const unsubscribe = store.subscribe((s, before) => {
      if (s.listing !== null && s.listing !== before.listing) rememberDirectory(deviceId, s.listing.path);
    });
    return () => {
      unsubscribe();
      // Transfers belong to this view: none goes on unseen (an upload resumes when the same file is uploaded again).
      store.getState().dispose();
    };
  }, [open, store, deviceId]);
  const online = device?.online;
  useEffect(() => {
    // The device came back: list again what could not be listed while it was away.
    if (online === true && store.getState().listError?.code === 'DEVICE_OFFLINE') void store.getState().reload();
  }, [online, store]);
  const name = visible(device?.name ?? deviceId);
  return (
    <section className="files-view" data-testid="files-view" data-device-id={deviceId}>
      <div className="fleet-summary">
        <h2 className="crumbs">
          <a href="#/">Fleet</a> ›{' '}
          <span className="ellipsis" title={name} data-testid="files-device-name">
            {name}
          </span>
        </h2>
        <DeviceLinks deviceId={deviceId} current="files" />
      </div>
      {device?.online === false && (
        <p className="banner" role="status" data-testid="files-offline">
          This device is offline. Its files can be browsed and transferred once it reconnects; transfers that were cut can be resumed then.
        </p>
      )}
      <Browser store={store} />
      <Transfers store={store} />
    </section>
  );
}

function useFiles<T>(store: FilesStore, selector: (s: FilesState) => T): T {
  return useStore(store, selector);
}

function PathBar({ store }: { store: FilesStore }) {
  const path = useFiles(store, (s) => s.path);
  const open = useFiles(store, (s) => s.open);
  const [typed, setTyped] = useState(path);
  const [notAbsolute, setNotAbsolute] = useState(false);
  useEffect(() => setTyped(path), [path]);
  const parts = path.split('/').filter(Boolean);
  return (
    <div className="files-pathbar">
      <nav aria-label="Directory" className="files-breadcrumb" data-testid="files-breadcrumb">
        <button type="button" onClick={() => void open('/')} aria-label="Root directory">
          /
        </button>
        {parts.map((part, i) => {
          const target = `/${parts.slice(0, i + 1).join('/')}`;
          const last = i === parts.length - 1;
          return (
            <span key={target}>
              <button type="button" onClick={() => void open(target)} aria-current={last ? 'location' : undefined}>
                {visible(part)}
              </button>
              {!last && <span aria-hidden="true">/</span>}
            </span>
          );
        })}
      </nav>
      <form
        className="files-goto"
        onSubmit={(e) => {
          e.preventDefault();
          const absolute = typed.startsWith('/');
          setNotAbsolute(!absolute);
          if (absolute) void open(typed);
        }}
      >
        <input
          data-testid="files-path"
          value={typed}
          onChange={(e) => {
            setTyped(e.target.value);
            setNotAbsolute(false);
          }}
          placeholder="/home/robot"
          spellCheck={false}
          aria-label="Path on the device"
          aria-invalid={notAbsolute || undefined}
          aria-describedby={notAbsolute ? 'files-path-hint' : undefined}
        />
        <button type="submit" data-testid="files-go">
          Open
        </button>
        {notAbsolute && (
          <span id="files-path-hint" className="files-path-hint" role="alert">
            A device path starts with /
          </span>
        )}
      </form>
    </div>
  );
}

/** The error of a listing, said as what to do about it. */
export function ListError({ error, onRetry }: { error: UiError; onRetry(): void }) {
  switch (error.code) {
    case 'FORBIDDEN':
      return (
        <div className="empty-state" data-testid="files-no-access" role="status">
          <p>Your role cannot browse or transfer files: file names can be as telling as their contents, so only operators and admins may.</p>
          <p>Ask an admin for the operator role if you need this device's files.</p>
        </div>
      );
    case 'DEVICE_OFFLINE':
      return (
        <div className="empty-state" data-testid="files-device-offline" role="status">
          <p>The device is not connected, so its files cannot be listed now.</p>
          <p>
            <button type="button" onClick={onRetry}>
              Try again
            </button>
          </p>
        </div>
      );
    case 'PATH_NOT_ALLOWED':
      return (
        <div className="empty-state" data-testid="files-list-error" data-code={error.code} role="alert">
          <p>{error.message}.</p>
          <p>Type a path inside the directories this device allows (its home and /tmp by default, or the agent&apos;s fileRoots setting).</p>
        </div>
      );
    default:
      return (
        <p className="banner" role="alert" data-testid="files-list-error" data-code={error.code}>
          {error.message}{' '}
          <button type="button" onClick={onRetry}>
            Try again
          </button>
        </p>
      );
  }
}

function Browser({ store }: { store: FilesStore }) {
  const listing = useFiles(store, (s) => s.listing);
  const loading = useFiles(store, (s) => s.loading);
  const listError = useFiles(store, (s) => s.listError);
  const { open, reload, upload, download } = store.getState();
  const picker = useRef<HTMLInputElement>(null);
  const [dropping, setDropping] = useState(false);
  const canWrite = listing !== null && listError === null;

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDropping(false);
    if (canWrite && e.dataTransfer.files.length > 0) upload(Array.from(e.dataTransfer.files));
  };
  const onDragOver = (e: DragEvent) => {
    if (!canWrite || !e.dataTransfer.types.includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    setDropping(true);
  };

  // Leaving for one of the listing's own elements is not leaving the drop zone.
  const onDragLeave = (e: DragEvent) => {
    if (!(e.relatedTarget instanceof Node && e.currentTarget.contains(e.relatedTarget))) setDropping(false);
  };

  return (
    <div className={`files-browser${dropping ? ' is-dropping' : ''}`} data-testid="files-browser" aria-busy={loading} onDragOver={onDragOver} onDragLeave={onDragLeave} onDrop={onDrop}>
      <PathBar store={store} />
      <div className="files-actions">
        <button type="button" data-testid="files-upload" disabled={!canWrite} onClick={() => picker.current?.click()}>
          Upload…
        </button>
        <input
          ref={picker}
          type="file"
          multiple
          hidden
          data-testid="files-picker"
          aria-label="Files to upload"
          onChange={(e) => {
            const files = Array.from(e.target.files ?? []);
            e.target.value = '';
            if (files.length > 0) upload(files);
          }}
        />
        <button type="button" onClick={() => void reload()} disabled={loading}>
          Refresh
        </button>
        <span className="muted">
          Or drop files here. Downloads up to {MAX_BROWSER_DOWNLOAD_BYTES / 1024 / 1024} MB each in the console (it holds them in memory); larger ones with <code>tether cp</code>.
        </span>
      </div>
      {listError !== null && <ListError error={listError} onRetry={() => void reload()} />}
      {listing !== null && listError === null && (
        <>
          {listing.truncated && <p className="muted">Showing the first {listing.entries.length.toLocaleString('en')} entries.</p>}
          {listing.entries.length === 0 ? (
            <div className="empty-state" data-testid="files-empty">
              <p>This directory is empty.</p>
              <p>Upload a file with the button above or drop one here.</p>
            </div>
          ) : (
            <table className="data-table files-table" data-testid="files-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" className="num">
                    Size
                  </th>
                  <th scope="col">Mode</th>
                  <th scope="col">Modified</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {listing.entries.map((entry) => (
                  <EntryRow key={entry.name} entry={entry} onOpen={() => void open(`${listing.path.replace(/\/+$/, '')}/${entry.name}`)} onDownload={() => download(entry.name)} />
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </div>
  );
}

function EntryRow({ entry, onOpen, onDownload }: { entry: FileEntry; onOpen(): void; onDownload(): void }) {
  const name = visible(entry.name);
  return (
    <tr data-testid="files-entry" data-name={entry.name} data-type={entry.type}>
      <td className="ellipsis" title={name}>
        {entry.type === 'directory' ? (
          <button type="button" className="files-link" data-testid="files-open-dir" onClick={onOpen}>
            {name}/
          </button>
        ) : (
          <span>
            {name}
            {entry.type === 'symlink' ? ' (link)' : entry.type === 'other' ? ' (special)' : ''}
          </span>
        )}
      </td>
      <td className="num" data-testid="files-entry-size" title={`${entry.size.toLocaleString('en')} bytes`}>
        {entry.type === 'directory' ? '' : formatBytes(entry.size)}
      </td>
      <td className="files-mode">{formatMode(entry.mode)}</td>
      <td>{new Date(entry.modifiedAt).toLocaleString()}</td>
      <td>
        {entry.type === 'file' && (
          <button type="button" data-testid="files-download" aria-label={`Download ${name}`} onClick={onDownload}>
            Download
          </button>
        )}
      </td>
    </tr>
  );
}

const STATE_TEXT: Record<Transfer['state'], string> = {
  hashing: 'hashing',
  running: 'transferring',
  verifying: 'checking SHA-256',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

function Transfers({ store }: { store: FilesStore }) {
  const transfers = useFiles(store, (s) => s.transfers);
  const { cancel, resume, dismiss } = store.getState();
  if (transfers.length === 0) return null;
  return (
    <section className="files-transfers" aria-label="Transfers">
      <h3>Transfers</h3>
      <ul>
        {transfers.map((t) => {
          const name = visible(t.name);
          const percent = t.size > 0 ? Math.floor((t.done / t.size) * 100) : t.state === 'done' ? 100 : 0;
          const active = t.state === 'hashing' || t.state === 'running' || t.state === 'verifying';
          return (
            <li key={t.id} className="files-transfer" data-testid="files-transfer" data-direction={t.direction} data-state={t.state} data-name={t.name}>
              <span className="ellipsis" title={visible(t.path)}>
                {t.direction === 'upload' ? '↑' : '↓'} {name}
              </span>
              <progress max={100} value={percent} aria-label={`${t.direction === 'upload' ? 'Upload' : 'Download'} of ${name}`} />
              <span className="files-transfer-figures" data-testid="files-transfer-figures">
                {percent} % · {formatBytes(t.done)}
                {t.size > 0 ? ` of ${formatBytes(t.size)}` : ''}
                {t.state === 'running' && t.speed > 0 ? ` · ${formatBytes(t.speed)}/s` : ''} · {STATE_TEXT[t.state]}
              </span>
              {active && (
                <button type="button" data-testid="files-cancel" aria-label={`Cancel ${name}`} onClick={() => cancel(t.id)}>
                  Cancel
                </button>
              )}
              {t.resumable && (
                <button type="button" data-testid="files-resume" aria-label={`Resume ${name}`} onClick={() => resume(t.id)}>
                  Resume
                </button>
              )}
              {!active && (
                <button type="button" data-testid="files-dismiss" aria-label={`Remove ${name} from the list`} onClick={() => dismiss(t.id)}>
                  ×
                </button>
              )}
              {t.error !== null && (
                <p className="files-transfer-error" role="alert" data-testid="files-transfer-error" data-code={t.error.code}>
                  {t.error.message}
                </p>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
