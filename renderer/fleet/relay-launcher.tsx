import { useState } from 'react';
import { toUiError } from '../api/ui-error.js';
import type { DevicesApi } from './devices-api.js';

/**
 * "Web UI on port N — Open": asks the backend for a relay grant and opens the device's web UI in
 * a new tab (`noopener`: the relayed page gets no handle on the console).
 */
export function RelayLauncher({ deviceId, api }: { deviceId: string; api: DevicesApi }) {
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
      setError(null);
      window.open(new URL(grant.path, window.location.href).href, '_blank', 'noopener,noreferrer');
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
