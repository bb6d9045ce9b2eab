import { useEffect, useState } from 'react';
import type { DesktopApi, DesktopForward } from '../../protocol/index.js';
import { useConsoleHost } from '../host/host-context.js';

const POLL_MS = 1000;

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * The desktop app's TCP forwards to this device (the main process listens on the loopback):
 * start one, see each with its connections and bytes, stop it. Only in the desktop app: a
 * browser page cannot listen on ports (use `tether forward` there).
 */
export function DesktopForwards({ deviceId }: { deviceId: string }) {
  const desktop = useConsoleHost().desktop;
  if (desktop === null) return null;
  return <ForwardList deviceId={deviceId} desktop={desktop} />;
}

function ForwardList({ deviceId, desktop }: { deviceId: string; desktop: DesktopApi }) {
  const [forwards, setForwards] = useState<DesktopForward[]>([]);
  const [localPort, setLocalPort] = useState('0');
  const [host, setHost] = useState('127.0.0.1');
  const [remotePort, setRemotePort] = useState('80');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const refresh = (): void => {
      desktop.forwards.list(deviceId).then((list) => live && setForwards(list), () => undefined);
    };
    refresh();
    const timer = setInterval(refresh, POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [deviceId, desktop]);

  const start = async (): Promise<void> => {
    try {
      const started = await desktop.forwards.start({ deviceId, localPort: Number(localPort), host, remotePort: Number(remotePort) });
      setForwards((list) => [...list, started]);
      setError(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <section className="desktop-forwards" data-testid="details-forwards" aria-label="Port forwards">
      <h4>Port forwards</h4>
      <ul className="forward-list">
        {forwards.map((f) => (
          <li key={f.id} data-testid="forward-item">
            <span className="mono">{`${f.bind}:${f.localPort} → ${f.host}:${f.remotePort}`}</span>{' '}
            <span className="muted">{`${f.connections} open · ${f.totalConnections} total · ↓${bytes(f.bytesIn)} ↑${bytes(f.bytesOut)}`}</span>
            {f.lastError !== null && <span className="form-error">{` ${f.lastError}`}</span>}{' '}
            <button type="button" className="link" onClick={() => void desktop.forwards.stop(f.id).then(() => setForwards((list) => list.filter((x) => x.id !== f.id)))}>
              Stop
            </button>
          </li>
        ))}
      </ul>
      <form
        className="forward-form"
        onSubmit={(event) => {
          event.preventDefault();
          void start();
        }}
      >
        <label>
          Local port <input type="number" min={0} max={65535} value={localPort} onChange={(e) => setLocalPort(e.target.value)} />
        </label>{' '}
        <label>
          Host <input value={host} onChange={(e) => setHost(e.target.value)} />
        </label>{' '}
        <label>
          Port <input type="number" min={1} max={65535} value={remotePort} onChange={(e) => setRemotePort(e.target.value)} />
        </label>{' '}
        <button type="submit">Forward</button>
        {error !== null && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
