import { useAuthPhase } from '../auth/auth-hooks.js';
import { LoginView } from '../auth/login-view.js';
import { FleetView } from '../fleet/fleet-view.js';
import { useConfigRoute } from '../config/config-route.js';
import { ConfigView } from '../config/config-view.js';
import { MonitoringView } from '../metrics/monitoring-view.js';
import { parseMonitoringHash, useMonitoringHash } from '../metrics/monitoring-route.js';
import { JobsView } from '../jobs/jobs-view.js';
import { ShellView } from '../shell/shell-view.js';
import { useRemoteRoute } from '../shell/shell-route.js';
import { TopBar } from './top-bar.js';
import { AccessView } from '../users/access-view.js';
import { useAccessRoute } from '../users/access-route.js';

export function App() {
  const phase = useAuthPhase();
  const showConfig = useConfigRoute();
  const remoteRoute = useRemoteRoute();
  const monitoringRoute = parseMonitoringHash(useMonitoringHash());
  const accessRoute = useAccessRoute();
  switch (phase) {
    case 'restoring':
      return (
        <div className="splash" aria-busy="true" data-testid="app-loading">
          Connecting to the backend…
        </div>
      );
    case 'signed-in':
      return (
        <div className="shell">
          <TopBar />
          <main className="content">
            {accessRoute !== null ? <AccessView route={accessRoute} /> : remoteRoute?.view === 'shell' ? <ShellView key={remoteRoute.deviceId} deviceId={remoteRoute.deviceId} /> : remoteRoute?.view === 'jobs' ? <JobsView jobId={remoteRoute.jobId} /> : monitoringRoute !== null ? <MonitoringView route={monitoringRoute} /> : showConfig ? <ConfigView /> : <FleetView />}
          </main>
        </div>
      );
    case 'signed-out':
    case 'signing-in':
      return <LoginView />;
  }
}
