import { useCurrentUser } from '../auth/auth-hooks.js';
import { accessHash, useAccessRoute, type AccessRoute } from './access-route.js';

const ADMIN_LINKS: Array<[AccessRoute, string]> = [['users', 'Users'], ['tokens', 'Tokens'], ['audit', 'Audit']];

/** Users, Tokens and Audit for admins (the backend refuses others anyway), Account for everyone. */
export function AccessNavLinks() {
  const user = useCurrentUser();
  const route = useAccessRoute();
  const links: Array<[AccessRoute, string]> = [...(user?.role === 'admin' ? ADMIN_LINKS : []), ['account', 'Account']];
  return (
    <nav className="top-nav" aria-label="Users and access">
      {links.map(([to, label]) => (
        <a key={to} href={accessHash(to)} data-testid={`nav-${to}`} aria-current={route === to ? 'page' : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
}
