/**
 * "12 s ago", "5 min ago", "3 h ago", "2 d ago", or "never". Hand-written because the
 * built-in `Intl.RelativeTimeFormat` words it differently per engine and locale ("12 seconds
 * ago", "12s ago"), and the fleet table wants one short stable form.
 */
export function formatRelativeTime(then: number | null, now: number): string {
  if (then === null) return 'never';
  // A device clock or backend clock slightly ahead of ours must not read "in 2 s".
  const seconds = Math.max(0, Math.floor((now - then) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}
