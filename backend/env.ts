import { z } from 'zod';
import { envHelp, envPositiveInt, parseEnv, Password } from '../protocol/index.js';
import { ClusterPrefix } from './cluster/bus-messages.js';
import { DatabaseUrl } from './database-url.js';
import { trustedProxies } from './http/proxy-protocol.js';

/** `--proxy-protocol-from`'s list, checked as the listener will read it. */
const ProxyProtocolFrom = z.string().superRefine((value, ctx) => {
  try {
    trustedProxies(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be addresses and CIDRs, comma-separated (10.0.0.5,10.0.0.0/24,fd00::/64)' });
  }
});

/**
 * Every environment variable the backend reads, with its meaning (listed by `--help`). The
 * TETHER_HOME, TETHER_LISTEN, TETHER_PUBLIC_URL, TETHER_DATABASE_URL, TETHER_NATS_URL, TETHER_NATS_PREFIX, TETHER_NODE_ID
 * and TETHER_PROXY_PROTOCOL_FROM variables are also the defaults of their flags
 * (commander reads them, so a flag still wins); the rest exist only here.
 */
export const BackendEnv = z.object({
  TETHER_HOME: z.string().optional().describe('backend home directory, as --home (default ./.tether)'),
  TETHER_LISTEN: z.string().optional().describe('HOST:PORT to listen on, as --listen (default 0.0.0.0:8443)'),
  TETHER_PUBLIC_URL: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }).optional().describe('URL agents and browsers reach the backend at, as --public-url'),
  TETHER_DATABASE_URL: DatabaseUrl.optional().describe('postgres://… : keep state in PostgreSQL instead of SQLite files in the home, as --database-url; fields it leaves out come from PGUSER, PGPASSWORD, PGHOST, PGPORT, PGDATABASE'),
  TETHER_NATS_URL: z.string().regex(/^(nats|tls):\/\//, 'must be a nats:// URL').optional().describe('nats://host:4222 : run as a cluster node on this NATS (JetStream on) and the PostgreSQL of TETHER_DATABASE_URL, as --nats'),
  TETHER_NATS_PREFIX: ClusterPrefix.optional().describe('prefix of the cluster\'s NATS subjects and buckets, as --nats-prefix (default tether)'),
  TETHER_NODE_ID: z.string().min(1).max(200).optional().describe('this node\'s name in the cluster, as --node-id (default <hostname>:<port>)'),
  TETHER_PROXY_PROTOCOL_FROM: ProxyProtocolFrom.optional().describe('addresses and CIDRs (comma-separated) of load balancers that send a PROXY protocol header (HAProxy send-proxy-v2); their connections must start with one, as --proxy-protocol-from (default off)'),
  TETHER_ADMIN_PASSWORD: Password.optional().describe('password of the first admin, used when there is no user yet (else one is generated and printed once)'),
  TETHER_CONSOLE_DIR: z.string().optional().describe('folder of the built web console served at / (default renderer/dist)'),
  TETHER_SHELL_IDLE_MS: envPositiveInt().optional().describe('end a remote shell after this many ms without input (default 30 min)'),
  TETHER_SHELL_GRACE_MS: envPositiveInt().optional().describe('ms a remote shell whose console connection was lost waits to be resumed (default 60000)'),
  TETHER_SHELL_RETENTION_DAYS: envPositiveInt().optional().describe('delete shell recordings older than this many days (default 30)'),
  TETHER_MAX_REKEYS_PER_MINUTE: envPositiveInt().optional().describe('key rotations a device may ask for per minute before it is dropped (tests)'),
});
export type BackendEnv = z.output<typeof BackendEnv>;

/** Reads and checks the backend's variables; BAD_REQUEST names a bad one. */
export function readBackendEnv(env: Readonly<Record<string, string | undefined>>): BackendEnv {
  return parseEnv(BackendEnv, env);
}

export const BACKEND_ENV_HELP = envHelp(BackendEnv);
