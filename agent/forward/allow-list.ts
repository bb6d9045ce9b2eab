import { DEFAULT_FORWARD_ALLOW } from '../../protocol/forward.js';

interface Rule {
  host: string;
  from: number;
  to: number;
}

/** `[::1]` and `::1` name the same host; names compare case-insensitively. */
function normalHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare.toLowerCase();
}

function parseRule(entry: string): Rule | null {
  const colon = entry.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = normalHost(entry.slice(0, colon));
  const port = entry.slice(colon + 1);
  if (port === '*') return { host, from: 1, to: 65535 };
  const [a, b] = port.split('-');
  const from = Number(a);
  const to = b === undefined ? from : Number(b);
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to > 65535 || from > to) return null;
  return { host, from, to };
}

/**
 * Which host:port a forward may reach on this device, as the device owner configured it
 * (`forwardAllow` in the agent settings, else TETHER_FORWARD_ALLOW, else the loopback). Hosts are
 * compared as written, never resolved, so a name does not widen the list; `*` as host allows any.
 */
export class ForwardAllowList {
  private readonly rules: Rule[];

  constructor(entries: readonly string[] = DEFAULT_FORWARD_ALLOW) {
    this.rules = entries.map(parseRule).filter((r): r is Rule => r !== null);
  }

  allows(host: string, port: number): boolean {
    const wanted = normalHost(host);
    return this.rules.some((r) => (r.host === '*' || r.host === wanted) && port >= r.from && port <= r.to);
  }
}
