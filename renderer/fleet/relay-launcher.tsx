import { useState } from 'react';
import { toUiError } from '../api/ui-error.js';
import { useConsoleHost } from '../host/host-context.js';
import type { DevicesApi } from './devices-api.js';

/**
 * "Web UI on port N — Open": asks the backend for a relay grant and opens the device's web UI in
 * a new tab (`noopener`: the relayed page gets no handle on the console). In the desktop app the
 * page is not on the backend's origin: the link goes to the backend itself, which the shell opens
 * in the system browser (the grant is in the path, so no session is needed there).
 */
export function RelayLauncher({ deviceId, api }: { deviceId: string; api: DevicesApi }) {
  const host = useConsoleHost();
  const [port, setPort] = useState('80');
  const [error, setError] = useState<string | null>(null);
  const open = async (): Promise<void> => {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      setError('A port from 1 to 65535');
      return;
    }
    try {
      const grant = await api.relayGrant(deviceId, n);
      const base = host.desktop ? ((await host.desktop.backend.endpoint())?.httpOrigin ?? window.location.href) : window.location.href;
      setError(null);
      window.open(new URL(grant.path, base).href, '_blank', 'noopener,noreferrer');
    } catch (err) {
      setError(toUiError(err).message);
    }
  };
  return (
    <form
      className="relay-launcher"
      data-testid="details-relay"
      onSubmit={(event) => {
        event.preventDefault();
        void open();
      }}
    >
      <label>
        Web UI on port{' '}
        <input type="number" min={1} max={65535} value={port} onChange={(e) => setPort(e.target.value)} data-testid="details-relay-port" aria-invalid={error !== null} />
      </label>{' '}
      <button type="submit" data-testid="details-relay-open">
        Open
      </button>
      {error !== null && (
        <p className="form-error" role="alert" data-testid="details-relay-error">
          {error}
        </p>
      )}
    </form>
  );
}
