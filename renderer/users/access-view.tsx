import { missingCase } from '../../protocol/index.js';
import { useCurrentUser } from '../auth/auth-hooks.js';
import { AccountView } from './account-view.js';
import type { AccessRoute } from './access-route.js';
import { AuditView } from './audit-view.js';
import { TokensView } from './tokens-view.js';
import { UsersView } from './users-view.js';
import './access.css';

/** The users-and-access views; admin-only ones answer others with a note (the backend refuses them anyway). */
export function AccessView({ route }: { route: AccessRoute }) {
  const user = useCurrentUser();
  if (route !== 'account' && user?.role !== 'admin') {
    return <p className="access-view" data-testid="access-forbidden">This view is for admins.</p>;
  }
  switch (route) {
    case 'users':
      return <UsersView />;
    case 'tokens':
      return <TokensView />;
    case 'audit':
      return <AuditView />;
    case 'account':
      return <AccountView />;
    default:
      return missingCase(route);
  }
}
