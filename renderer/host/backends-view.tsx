import { useCallback, useEffect, useState, useSyncExternalStore, type FormEvent, type ReactNode } from 'react';
import type { DesktopApi, ProfileList } from '../../protocol/index.js';
import type { ConsoleHost } from './host.js';

export const BACKENDS_HASH = '#/backends';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

/**
 * In the desktop app, the backends view stands in front of the console while no backend is
 * selected, and on `#/backends` (File › Manage Backends…). In a browser it renders the console.
 */
export function DesktopGate({ host, children }: { host: ConsoleHost; children: ReactNode }) {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash, () => '');
  if (host.desktop === null || (!host.needsBackend && hash !== BACKENDS_HASH)) return children;
  return <BackendsView desktop={host.desktop} canLeave={!host.needsBackend} />;
}

/** Add, remove and choose backend profiles (URL + CA pin). Choosing one reloads the window against it. */
export function BackendsView({ desktop, canLeave }: { desktop: DesktopApi; canLeave: boolean }) {
  const [list, setList] = useState<ProfileList>({ profiles: [], activeId: null });
  const [form, setForm] = useState({ name: '', url: 'https://', caPin: 'sha256:' });
  const [error, setError] = useState<string | null>(null);
  const fail = (err: unknown) => setError(err instanceof Error ? err.message : String(err));
  const reload = useCallback(() => {
    desktop.profiles.list().then(setList, fail);
  }, [desktop]);
  useEffect(reload, [reload]);

  const add = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    desktop.profiles
      .add(form)
      // With nothing selected there is nothing else to show: use the new backend straight away.
      .then((added) => (list.activeId === null ? desktop.profiles.select(added.id) : reload()), fail);
  };
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  return (
    <section className="backends" data-testid="backends-view">
      <h2>Backends</h2>
      {canLeave && <a href="#/">← Console</a>}
      {error !== null && (
        <p className="banner" role="alert" data-testid="backends-error">
          {error}
        </p>
      )}
      <ul>
        {list.profiles.map((profile) => (
          <li key={profile.id} data-testid="backend-profile">
            <strong>{profile.name}</strong> <span className="muted">{profile.url}</span> {profile.id === list.activeId ? <em>in use</em> : null}
            {profile.id !== list.activeId && (
              <button type="button" onClick={() => desktop.profiles.select(profile.id).catch(fail)}>
                Use
              </button>
            )}
            <button type="button" onClick={() => desktop.profiles.remove(profile.id).then(reload, fail)}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form onSubmit={add} data-testid="backend-add">
        <input aria-label="Name" value={form.name} onChange={set('name')} placeholder="Name" required />
        <input aria-label="Backend URL" value={form.url} onChange={set('url')} placeholder="https://host:8443" required />
        <input aria-label="CA pin" value={form.caPin} onChange={set('caPin')} placeholder="sha256:… (npx tether-backend ca pin)" required />
        <button type="submit">Add backend</button>
      </form>
    </section>
  );
}
