import { CONFIG_HASH, useConfigRoute } from './config-route.js';

/** Fleet / Configuration switch in the top bar. */
export function ConfigNavLinks() {
  const onConfig = useConfigRoute();
  return (
    <nav className="top-nav" aria-label="Views">
      <a href="#/" data-testid="nav-fleet" aria-current={onConfig ? undefined : 'page'}>
        Fleet
      </a>{' '}
      <a href={CONFIG_HASH} data-testid="nav-config" aria-current={onConfig ? 'page' : undefined}>
        Configuration
      </a>
    </nav>
  );
}
