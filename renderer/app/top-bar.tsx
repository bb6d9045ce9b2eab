import { escapeControlCharacters as visible } from '../../protocol/index.js';
import { useCurrentUser, useLogout } from '../auth/auth-hooks.js';
import { ConnectionIndicator } from '../live/connection-indicator.js';
import { ConfigNavLinks } from '../config/config-nav.js';
import { MonitoringNavLinks } from '../metrics/monitoring-nav.js';
import { RemoteNavLinks } from '../shell/remote-nav.js';
import { ThemeToggle } from '../theme/theme-hooks.js';
import { AccessNavLinks } from '../users/access-nav.js';

export function TopBar() {
  const user = useCurrentUser();
  const logout = useLogout();
  return (
    <header className="top-bar">
      <span className="brand">Tether</span>
      <ConnectionIndicator />
      <ConfigNavLinks />
      <MonitoringNavLinks />
      <RemoteNavLinks />
      <AccessNavLinks />
      <span className="spacer" />
      <ThemeToggle />
      {user !== null && (
        <span className="user">
          <span data-testid="current-user">{visible(user.username)}</span>
          <span className="role" data-testid="current-user-role">
            {user.role}
          </span>
        </span>
      )}
      <button type="button" data-testid="logout" onClick={() => void logout()}>
        Log out
      </button>
    </header>
  );
}
