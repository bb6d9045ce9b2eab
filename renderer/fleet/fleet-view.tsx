import { GAUGE_METRICS, useFleetGauges } from '../metrics/fleet-gauges.js';
import { DeviceRow } from './device-row.js';
import { useDeviceCount, useDeviceIds, useFleetLoadError, useFleetLoading, useOnlineCount } from './fleet-hooks.js';

const COLUMNS = ['Name', 'Status', 'Enrolment', 'Last seen', 'Platform', 'Tags', ...GAUGE_METRICS.map((g) => g.label), ''];

export function FleetView() {
  const ids = useDeviceIds();
  const count = useDeviceCount();
  const online = useOnlineCount();
  const loading = useFleetLoading();
  const loadError = useFleetLoadError();
  useFleetGauges();

  return (
    <section className="fleet" aria-labelledby="fleet-heading">
      <div className="fleet-summary">
        <h2 id="fleet-heading">Fleet</h2>
        <p className="muted">
          <span data-testid="fleet-count">{count}</span> {count === 1 ? 'device' : 'devices'} ·{' '}
          <span data-testid="fleet-online-count">{online}</span> online
        </p>
      </div>
      {loadError !== null && (
        <p className="banner" role="alert" data-testid="fleet-error" data-code={loadError.code}>
          Could not load the device list: {loadError.message}
        </p>
      )}
      <table className="fleet-table" data-testid="fleet-table" aria-busy={loading}>
        <thead>
          <tr>
            {COLUMNS.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {ids.map((id) => (
            <DeviceRow key={id} id={id} />
          ))}
          {ids.length === 0 && (
            <tr className="empty">
              <td colSpan={COLUMNS.length}>{loading ? 'Loading devices…' : 'No devices enrolled yet.'}</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
