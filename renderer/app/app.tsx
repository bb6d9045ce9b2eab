import { useAuthPhase } from '../auth/auth-hooks.js';
import { LoginView } from '../auth/login-view.js';
import { FleetView } from '../fleet/fleet-view.js';
import { TopBar } from './top-bar.js';

export function App() {
  const phase = useAuthPhase();
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
            <FleetView />
          </main>
        </div>
      );
    case 'signed-out':
    case 'signing-in':
      return <LoginView />;
  }
}
