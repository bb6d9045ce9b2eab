import { useAuthPhase } from '../auth/auth-hooks.js';
import { LoginView } from '../auth/login-view.js';
import { FleetView } from '../fleet/fleet-view.js';
import { useConfigRoute } from '../config/config-route.js';
import { parseMonitoringHash, useMonitoringHash } from '../metrics/monitoring-route.js';
import { loadShellView, useRemoteRoute } from '../shell/shell-route.js';
import { TopBar } from './top-bar.js';
import { useAccessRoute } from '../users/access-route.js';
import { useFilesRoute } from '../files/files-route.js';
import { lazy, Suspense } from 'react';
import { useEarlyTerminal } from '../shell/early-terminal.js';

// The fleet is the first screen; the other views (xterm, chart.js and their code) load on first
// visit, so the first screen compiles and evaluates a third of the bundle.
const ConfigView = lazy(async () => ({ default: (await import('../config/config-view.js')).ConfigView }));
const MonitoringView = lazy(async () => ({ default: (await import('../metrics/monitoring-view.js')).MonitoringView }));
const JobsView = lazy(async () => ({ default: (await import('../jobs/jobs-view.js')).JobsView }));
const ShellView = lazy(async () => ({ default: (await loadShellView()).ShellView }));
const FilesView = lazy(async () => ({ default: (await import('../files/files-view.js')).FilesView }));
const AccessView = lazy(async () => ({ default: (await import('../users/access-view.js')).AccessView }));

export function App() {
  const phase = useAuthPhase();
  const configRoute = useConfigRoute();
  const remoteRoute = useRemoteRoute();
  const monitoringRoute = parseMonitoringHash(useMonitoringHash());
  const accessRoute = useAccessRoute();
  const filesRoute = useFilesRoute();
  useEarlyTerminal(phase === 'signed-in' && remoteRoute?.view === 'shell' ? remoteRoute.deviceId : null);
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
            <Suspense fallback={<div className="splash" aria-busy="true">Loading…</div>}>
            {accessRoute !== null ? <AccessView route={accessRoute} /> : filesRoute !== null ? <FilesView key={filesRoute.deviceId} deviceId={filesRoute.deviceId} /> : remoteRoute?.view === 'shell' ? <ShellView key={remoteRoute.deviceId} deviceId={remoteRoute.deviceId} /> : remoteRoute?.view === 'jobs' ? <JobsView jobId={remoteRoute.jobId} /> : monitoringRoute !== null ? <MonitoringView route={monitoringRoute} /> : configRoute !== null ? <ConfigView key={configRoute.deviceId ?? 'fleet'} deviceId={configRoute.deviceId} /> : <FleetView />}
            </Suspense>
          </main>
        </div>
      );
    case 'signed-out':
    case 'signing-in':
      return <LoginView />;
  }
}
