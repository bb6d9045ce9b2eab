import { useEffect, useMemo, useRef, useState } from 'react';
import { escapeControlCharacters as visible, type ConfigSelector } from '../../protocol/index.js';
import { DeviceLinks } from '../fleet/device-links.js';
import { useDevice } from '../fleet/fleet-hooks.js';
import { useConfig } from './config-hooks.js';
import { CONFIG_HASH } from './config-route.js';
import type { DraftCheck } from './config-store.js';
import { lineOf, pointerLines, syntaxErrorLine } from './json-lines.js';
import './config.css';

/** How often desired vs reported is refreshed while the view is open. */
const STATUS_POLL_MS = 2_000;

/** The fleet's configuration, or (with `deviceId`) one device's: its override layer, status and effective config. */
export function ConfigView({ deviceId = null }: { deviceId?: string | null }) {
  const loadLayers = useConfig((s) => s.loadLayers);
  const loadStatus = useConfig((s) => s.loadStatus);
  const loadError = useConfig((s) => s.loadError);
  const select = useConfig((s) => s.select);
  const showEffective = useConfig((s) => s.showEffective);
  const device = useDevice(deviceId ?? '');
  useEffect(() => {
    void loadLayers().then(() => {
      if (deviceId === null) return;
      select(`device:${deviceId}`);
      void showEffective(deviceId);
    });
    void loadStatus();
    const timer = setInterval(() => void loadStatus(), STATUS_POLL_MS);
    return () => clearInterval(timer);
  }, [loadLayers, loadStatus, select, showEffective, deviceId]);

  return (
    <section className="config" aria-labelledby="config-heading" data-testid="config-view" data-device-id={deviceId ?? undefined}>
      {deviceId === null ? (
        <h2 id="config-heading">Configuration</h2>
      ) : (
        <h2 id="config-heading" className="crumbs">
          <a href={CONFIG_HASH}>Configuration</a> ›{' '}
          <span className="ellipsis" title={device?.name ?? deviceId} data-testid="config-device-name">
            {device?.name ?? deviceId}
          </span>
        </h2>
      )}
      {deviceId !== null && <DeviceLinks deviceId={deviceId} current="config" />}
      {loadError !== null && (
        <p className="banner" role="alert" data-testid="config-load-error" data-code={loadError.code}>
          {loadError.message}
        </p>
      )}
      <div className="config-grid">
        <LayerList />
        <LayerEditor />
        <LayerHistory />
      </div>
      <FleetConfigStatus deviceId={deviceId} />
      <EffectiveConfigView />
    </section>
  );
}

function LayerList() {
  const layers = useConfig((s) => s.layers);
  const selectedId = useConfig((s) => s.selectedId);
  const select = useConfig((s) => s.select);
  const [name, setName] = useState('');
  const [selector, setSelector] = useState('');
  const [priority, setPriority] = useState('0');
  const [formError, setFormError] = useState<string | null>(null);

  const newGroup = () => {
    const parsed = parseSelector(selector);
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(name)) return setFormError('Group names are lower case letters, digits, _ or -');
    if (parsed === null) return setFormError('Selector: tag=value, separated by commas');
    setFormError(null);
    select(`group:${name}`, { selector: parsed, priority: Number(priority) || 0 });
  };

  return (
    <nav className="config-layers" aria-label="Config layers">
      <h3>Layers</h3>
      <ul>
        {layers.map((layer) => (
          <li key={layer.id}>
            <button type="button" data-testid="config-layer" data-layer-id={layer.id} aria-pressed={layer.id === selectedId} onClick={() => select(layer.id)}>
              <LayerLabel id={layer.id} />
              {layer.kind === 'group' && <span className="muted"> {Object.entries(layer.selector).map(([k, v]) => `${k}=${v}`).join(',')} · p{layer.priority}</span>}
              <span className="muted"> v{layer.version}</span>
            </button>
          </li>
        ))}
      </ul>
      <fieldset className="config-new-group">
        <legend>New group layer</legend>
        <input placeholder="name" value={name} onChange={(e) => setName(e.target.value)} data-testid="config-group-name" aria-label="Group name" />
        <input placeholder="site=a,role=edge" value={selector} onChange={(e) => setSelector(e.target.value)} data-testid="config-group-selector" aria-label="Tag selector" />
        <input type="number" value={priority} onChange={(e) => setPriority(e.target.value)} data-testid="config-group-priority" aria-label="Priority" />
        <button type="button" onClick={newGroup} data-testid="config-group-create">
          Edit new group
        </button>
        {formError !== null && <p className="error">{formError}</p>}
      </fieldset>
    </nav>
  );
}

/** A layer as people name it: `fleet`, `group:site-a`, or `device: <the device's name>` (the id in the tooltip). */
function LayerLabel({ id }: { id: string }) {
  const deviceId = id.startsWith('device:') ? id.slice('device:'.length) : '';
  const device = useDevice(deviceId);
  if (deviceId === '') return <>{id}</>;
  return <span title={id}>device: {device?.name ?? deviceId}</span>;
}

function parseSelector(text: string): ConfigSelector | null {
  const selector: ConfigSelector = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, value] = part.split('=');
    if (!key || value === undefined || !/^[A-Za-z0-9_.-]+$/.test(key.trim())) return null;
    selector[key.trim()] = value.trim();
  }
  return Object.keys(selector).length > 0 ? selector : null;
}

function LayerEditor() {
  const selectedId = useConfig((s) => s.selectedId);
  const draft = useConfig((s) => s.draft);
  const baseVersion = useConfig((s) => s.draftBaseVersion);
  const check = useConfig((s) => s.draftCheck);
  const saving = useConfig((s) => s.saving);
  const saveError = useConfig((s) => s.saveError);
  const setDraft = useConfig((s) => s.setDraft);
  const save = useConfig((s) => s.save);
  const select = useConfig((s) => s.select);
  const loadLayers = useConfig((s) => s.loadLayers);
  const [message, setMessage] = useState('');
  if (selectedId === null) return <div className="config-editor" />;

  return (
    <div className="config-editor">
      <h3>
        <span data-testid="config-editor-layer" data-layer-id={selectedId} title={selectedId}>
          <LayerLabel id={selectedId} />
        </span>{' '}
        <span className="muted">editing from v{baseVersion}</span>
      </h3>
      <CodeEditor label={`Values of ${selectedId}`} text={draft} check={check} onChange={setDraft} />
      <DraftPreview />
      <div className="config-save">
        <input placeholder="What changed and why" value={message} onChange={(e) => setMessage(e.target.value)} data-testid="config-message" aria-label="Change message" />
        <button
          type="button"
          className="primary"
          data-testid="config-save"
          disabled={saving || check.state !== 'ok'}
          onClick={() => void save(message).then((ok) => ok && setMessage(''))}
        >
          Save
        </button>
      </div>
      {saveError !== null && (
        <p className="banner" role="alert" data-testid="config-save-error" data-code={saveError.code}>
          {saveError.message}
          {saveError.code === 'CONFIG_VERSION_CONFLICT' && (
            <button type="button" onClick={() => void loadLayers().then(() => select(selectedId))} data-testid="config-reload">
              Reload layer
            </button>
          )}
        </p>
      )}
    </div>
  );
}

/** Each error of the draft with the line it is at (a JSON syntax error, or the key a schema error names). */
function errorsByLine(text: string, check: DraftCheck): Array<{ line: number | null; path: string; message: string }> {
  if (check.state !== 'invalid') return [];
  if (check.code === 'JSON') return check.errors.map((e) => ({ ...e, line: syntaxErrorLine(text, e.message) }));
  let lines: Map<string, number>;
  try {
    JSON.parse(text);
    lines = pointerLines(text);
  } catch {
    return check.errors.map((e) => ({ ...e, line: null }));
  }
  return check.errors.map((e) => ({ ...e, line: lineOf(lines, e.path) }));
}

/**
 * The layer's JSON with line numbers, its errors marked at their lines (checked against the
 * layer's schema as one types, by the store), and a Format button.
 */
function CodeEditor({ label, text, check, onChange }: { label: string; text: string; check: DraftCheck; onChange: (text: string) => void }) {
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLOListElement>(null);
  const errors = useMemo(() => errorsByLine(text, check), [text, check]);
  const errorLines = useMemo(() => new Map(errors.flatMap((e) => (e.line === null ? [] : [[e.line, e.message] as const]))), [errors]);
  const lineCount = text.split('\n').length;
  const parsed = useMemo(() => {
    try {
      return { ok: true as const, value: JSON.parse(text) as unknown };
    } catch {
      return { ok: false as const };
    }
  }, [text]);
  const goTo = (line: number) => {
    const el = area.current;
    if (!el) return;
    const start = text.split('\n').slice(0, line - 1).join('\n').length + (line > 1 ? 1 : 0);
    el.focus();
    el.setSelectionRange(start, start);
  };
  return (
    <>
      <div className="config-code">
        <ol className="config-gutter" ref={gutter} aria-hidden="true">
          {Array.from({ length: lineCount }, (_, i) => (
            <li key={i} className={errorLines.has(i + 1) ? 'has-error' : undefined} title={errorLines.get(i + 1)} data-testid={errorLines.has(i + 1) ? 'config-error-line' : undefined} data-line={i + 1}>
              {i + 1}
            </li>
          ))}
        </ol>
        <textarea
          ref={area}
          data-testid="config-editor"
          aria-label={label}
          aria-invalid={check.state === 'invalid' || undefined}
          aria-describedby="config-validation"
          spellCheck={false}
          wrap="off"
          rows={16}
          value={text}
          onChange={(e) => onChange(e.target.value)}
          onScroll={(e) => gutter.current && (gutter.current.scrollTop = e.currentTarget.scrollTop)}
        />
      </div>
      <div className="config-tools">
        <button type="button" data-testid="config-format" disabled={!parsed.ok} onClick={() => parsed.ok && onChange(`${JSON.stringify(parsed.value, null, 2)}\n`)}>
          Format
        </button>
      </div>
      <div id="config-validation" className={`config-check ${check.state}`} data-testid="config-validation" data-state={check.state} data-code={check.state === 'invalid' ? check.code : undefined} role="status">
        {check.state === 'ok' && 'Valid'}
        {check.state === 'checking' && 'Checking…'}
        {check.state === 'invalid' && (
          <ul className="config-errors">
            {errors.map((e, i) => (
              <li key={i} data-testid="config-error" data-line={e.line ?? undefined}>
                {e.line !== null && (
                  <button type="button" className="link" onClick={() => goTo(e.line ?? 1)}>
                    Line {e.line}
                  </button>
                )}{' '}
                {e.path !== '' && <code>{e.path}</code>} {e.message}
              </li>
            ))}
          </ul>
        )}
      </div>
    </>
  );
}

/** What saving the draft would give a device, before saving: its whole effective config, changed values marked. */
function DraftPreview() {
  const preview = useConfig((s) => s.preview);
  const check = useConfig((s) => s.draftCheck);
  const current = useConfig((s) => s.effective);
  const device = useDevice(preview?.deviceId ?? '');
  if (preview === null || check.state !== 'ok') return null;
  const before = current?.deviceId === preview.deviceId ? current.config : null;
  const changed = Object.keys(preview.sources).filter((pointer) => before === null || JSON.stringify(valueAt(before, pointer)) !== JSON.stringify(valueAt(preview.config, pointer)));
  return (
    <details className="config-preview" data-testid="config-preview" data-device-id={preview.deviceId} open>
      <summary>
        After saving, <span className="ellipsis" title={preview.deviceId}>{device?.name ?? preview.deviceId}</span> gets{' '}
        {before === null ? 'this effective config' : <span data-testid="config-preview-changes">{changed.length === 0 ? 'no change' : `${changed.length} changed value${changed.length === 1 ? '' : 's'}`}</span>}
      </summary>
      {before !== null && changed.length > 0 && (
        <ul className="config-preview-changes">
          {changed.map((pointer) => (
            <li key={pointer} data-testid="config-preview-change" data-path={pointer}>
              <code>{pointer}</code>: <code>{JSON.stringify(valueAt(before, pointer)) ?? '—'}</code> → <code>{JSON.stringify(valueAt(preview.config, pointer))}</code>
            </li>
          ))}
        </ul>
      )}
      <pre className="config-preview-json" data-testid="config-preview-json">{JSON.stringify(preview.config, null, 2)}</pre>
    </details>
  );
}

function LayerHistory() {
  const history = useConfig((s) => s.history);
  const diff = useConfig((s) => s.diff);
  const showDiff = useConfig((s) => s.showDiff);
  const rollback = useConfig((s) => s.rollback);
  return (
    <div className="config-history">
      <h3>History</h3>
      <ol data-testid="config-history">
        {history.map((revision, index) => {
          const previous = history[index + 1];
          return (
            <li key={revision.version} data-testid="config-revision" data-version={revision.version}>
              <span>
                v{revision.version} · {revision.action} · {revision.author} · {new Date(revision.ts).toLocaleString()}
              </span>
              <span className="muted">{revision.message}</span>
              <span>
                <button type="button" data-testid="config-revision-diff" onClick={() => void showDiff(previous?.version ?? 0, revision.version)}>
                  Diff
                </button>
                <button type="button" data-testid="config-revision-rollback" onClick={() => void rollback(revision.version)}>
                  Roll back to this
                </button>
              </span>
            </li>
          );
        })}
      </ol>
      {diff !== null && (
        <div data-testid="config-diff">
          <h4>
            v{diff.from} → v{diff.to}
          </h4>
          {diff.changes.length === 0 && <p className="muted">No change</p>}
          <ul>
            {diff.changes.map((c) => (
              <li key={c.path} className={`diff-${c.kind}`} data-testid="config-diff-entry">
                <code>{c.path}</code> {c.kind}: {c.kind !== 'added' && <code>{JSON.stringify(c.before)}</code>} {c.kind === 'changed' && '→ '}
                {c.kind !== 'removed' && <code>{JSON.stringify(c.after)}</code>}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function FleetConfigStatus({ deviceId }: { deviceId: string | null }) {
  const all = useConfig((s) => s.status);
  const status = deviceId === null ? all : all.filter((d) => d.deviceId === deviceId);
  const showEffective = useConfig((s) => s.showEffective);
  const select = useConfig((s) => s.select);
  const drifting = status.filter((d) => d.drift).length;
  return (
    <div className="config-status">
      <h3>
        Desired vs reported <span className="muted" data-testid="config-drift-count">{drifting}</span>
        <span className="muted"> drifting</span>
      </h3>
      <table data-testid="config-status-table">
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Desired</th>
            <th scope="col">Reported</th>
            <th scope="col">State</th>
            <th scope="col">Error</th>
            <th scope="col" />
          </tr>
        </thead>
        <tbody>
          {status.map((d) => (
            <tr key={d.deviceId} data-testid="config-status-row" data-device-id={d.deviceId} data-drift={d.drift}>
              <td title={visible(d.name)}>
                {visible(d.name)} <span className="muted">{d.online ? 'online' : 'offline'}</span>
              </td>
              <td data-testid="config-desired">v{d.desiredVersion}</td>
              <td data-testid="config-reported">{d.reported === null ? '—' : `v${d.reported.version} ${d.reported.status}`}</td>
              <td data-testid="config-state" className={`state-${d.state}`}>
                {d.state}
              </td>
              <td className="error">{d.reported?.error ?? ''}</td>
              <td>
                <button type="button" data-testid="config-show-effective" onClick={() => void showEffective(d.deviceId)}>
                  Effective
                </button>
                <button type="button" data-testid="config-edit-override" onClick={() => select(`device:${d.deviceId}`)}>
                  Override
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function EffectiveConfigView() {
  const effective = useConfig((s) => s.effective);
  if (effective === null) return null;
  const rows = Object.entries(effective.sources).sort(([a], [b]) => (a < b ? -1 : 1));
  return (
    <div className="config-effective" data-testid="config-effective" data-device-id={effective.deviceId}>
      <h3>
        Effective config of <span className="ellipsis" title={effective.deviceId}>{visible(effective.status.name)}</span> <span className="muted">v{effective.version}</span>
      </h3>
      <table>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Value</th>
            <th scope="col">From layer</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([pointer, layer]) => (
            <tr key={pointer} data-testid="config-effective-row" data-path={pointer}>
              <td>
                <code>{pointer}</code>
              </td>
              <td>
                <code>{JSON.stringify(valueAt(effective.config, pointer))}</code>
              </td>
              <td data-testid="config-effective-source">{layer}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Reads a JSON Pointer (RFC 6901) out of a document. */
export function valueAt(document: unknown, pointer: string): unknown {
  let node: unknown = document;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
