import { useCurrentUser, useLogout } from '../auth/auth-hooks.js';
import { ConnectionIndicator } from '../live/connection-indicator.js';

export function TopBar() {
  const user = useCurrentUser();
  const logout = useLogout();
  return (
    <header className="top-bar">
      <span className="brand">Tether</span>
      <ConnectionIndicator />
      <span className="spacer" />
      {user !== null && (
        <span className="user">
          <span data-testid="current-user">{user.username}</span>
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
