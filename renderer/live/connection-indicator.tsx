import { useConnectionStatus } from './connection-hooks.js';

const TITLES = {
  idle: 'Not connected',
  connecting: 'Connecting to live updates',
  live: 'Receiving live updates',
  reconnecting: 'Connection lost; reconnecting',
} as const;

export function ConnectionIndicator() {
  const status = useConnectionStatus();
  return (
    <span className={`connection connection-${status}`} data-testid="console-connection" data-status={status} title={TITLES[status]} role="status">
      {status}
    </span>
  );
}
