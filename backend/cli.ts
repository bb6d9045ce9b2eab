import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { caPin } from '../channel/pin.js';
import { Role, TetherError, type Tags } from '../protocol/index.js';
import { installCommand } from './http/app.js';
import { ClusterPrefix } from './cluster/bus-messages.js';
import { DEFAULT_NATS_PREFIX, type ClusterConfig } from './cluster/cluster-node.js';
import { AuditLog } from './audit/audit-log.js';
import { UserService } from './auth/users.js';
import { DEFAULT_CONSOLE_DIR, parseListen } from './config.js';
import { databaseUrlOption } from './database-url.js';
import { BACKEND_ENV_HELP, readBackendEnv, type BackendEnv } from './env.js';
import { TokenService } from './enrol/tokens.js';
import { startBackend } from './main.js';
import { addOpsCommands } from './ops/ops-commands.js';
import { printErr, printOut, safeCommanderOutput } from './terminal-output.js';
import { pickSetting, readServiceConfig, type OptionSource } from './ops/service-config.js';
import { openStore, type OpenedStore } from './store/open-store.js';

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

function parseDuration(value: string): number {
  const match = DURATION.exec(value);
  if (!match?.[1] || !match[2]) throw new InvalidArgumentError('use a number and a unit, e.g. 30m, 1h, 7d');
  return Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function collectTag(value: string, tags: Tags): Tags {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('use key=value');
  return { ...tags, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** The audit log's actor for changes made with this CLI: the operating-system user who ran it. */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    // No passwd entry for this uid (e.g. a container): the uid still tells who it was.
    return `cli:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

const homeOption = () => new Option('--home <dir>', 'backend home directory').env('TETHER_HOME').default('./.tether');

function readBackendInfo(home: string): { publicUrl?: string } {
  try {
    return JSON.parse(readFileSync(join(home, 'backend.json'), 'utf8')) as { publicUrl?: string };
  } catch {
    return {};
  }
}

/** Opens the home's store for one command and closes it after, whatever happens. */
async function withStore<T>(home: string, databaseUrl: string | undefined, fn: (store: OpenedStore) => Promise<T>): Promise<T> {
  const store = await openStore({ home, databaseUrl: databaseUrl || undefined });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** `--nats`, `--node-id` and `--nats-prefix` as the backend's cluster settings; undefined without `--nats`. */
export function clusterSettings(opts: { nats?: string; nodeId?: string; natsPrefix: string; databaseUrl?: string }, port: number): ClusterConfig | undefined {
  if (!opts.nats) return undefined;
  if (!/^(nats|tls):\/\//.test(opts.nats)) throw new TetherError('BAD_REQUEST', `--nats must be a nats:// URL, not ${JSON.stringify(opts.nats)}`);
  if (!opts.databaseUrl) throw new TetherError('CLUSTER_NEEDS_POSTGRES', 'A cluster node (--nats) needs --database-url postgres://…: every node of a cluster shares one PostgreSQL database');
  const prefix = ClusterPrefix.safeParse(opts.natsPrefix);
  if (!prefix.success) throw new TetherError('BAD_REQUEST', `--nats-prefix must be letters, digits, _ and - (at most 40), not ${JSON.stringify(opts.natsPrefix)}`);
  // Port 0 (a free port picked at listen) would name every such node alike: the process id tells them apart.
  return { natsUrl: opts.nats, nodeId: opts.nodeId || `${hostname()}:${port === 0 ? `pid${process.pid}` : port}`, prefix: prefix.data };
}

export function backendProgram(): Command {
  const program = safeCommanderOutput(new Command('tether-backend').description('Tether backend: the self-hosted fleet server').showHelpAfterError().addHelpText('after', BACKEND_ENV_HELP));
  // Read once, before any command runs (not for --help): a bad value stops every command alike.
  let env: BackendEnv = {};
  program.hook('preAction', () => {
    env = readBackendEnv(process.env);
  });

  program
    .command('serve')
    .description('run the backend (HTTPS API, console, agent channels)')
    .addOption(homeOption())
    .addOption(new Option('--listen <host:port>', 'address to listen on').env('TETHER_LISTEN').default('0.0.0.0:8443'))
    .addOption(new Option('--public-url <url>', 'URL agents and browsers use to reach this backend').env('TETHER_PUBLIC_URL'))
    .addOption(databaseUrlOption())
    .addOption(new Option('--nats <url>', 'nats://host:4222 : run as a cluster node (needs --database-url; docs/cluster.md)').env('TETHER_NATS_URL'))
    .addOption(new Option('--node-id <id>', 'this node\'s name in the cluster (default <hostname>:<port>)').env('TETHER_NODE_ID'))
    .addOption(new Option('--nats-prefix <prefix>', 'prefix of the cluster\'s NATS subjects and buckets').env('TETHER_NATS_PREFIX').default(DEFAULT_NATS_PREFIX))
    .addOption(new Option('--proxy-protocol-from <list>', 'addresses and CIDRs of load balancers that send a PROXY protocol header (docs/cluster.md); off by default').env('TETHER_PROXY_PROTOCOL_FROM'))
    .option('--config <file>', 'JSON settings file (home, listen, publicUrl, agentDistDir, logLevel); flags and TETHER_* variables override it')
    .addHelpText('after', BACKEND_ENV_HELP)
    .action(async (opts: { home: string; listen: string; publicUrl?: string; databaseUrl?: string; nats?: string; nodeId?: string; natsPrefix: string; proxyProtocolFrom?: string; config?: string }, command: Command) => {
      const file = opts.config ? readServiceConfig(opts.config) : {};
      const source = (name: string) => command.getOptionValueSource(name) as OptionSource;
      const home = pickSetting(resolve(opts.home), source('home'), file.home);
      const listen = pickSetting(opts.listen, source('listen'), file.listen);
      const publicUrl = pickSetting(opts.publicUrl, source('publicUrl'), file.publicUrl);
      const log = pino({ level: file.logLevel ?? 'info' });
      const { host, port } = parseListen(listen);
      const cluster = clusterSettings(opts, port);
      const backend = await startBackend(
        {
          home, host, port, publicUrl, databaseUrl: opts.databaseUrl || undefined, cluster, proxyProtocolFrom: opts.proxyProtocolFrom || undefined,
          consoleDir: env.TETHER_CONSOLE_DIR ?? DEFAULT_CONSOLE_DIR, adminPassword: env.TETHER_ADMIN_PASSWORD, agentDistDir: file.agentDistDir,
          // Only what is set: an undefined key would replace the service's default.
          control: { ...(env.TETHER_MAX_REKEYS_PER_MINUTE !== undefined && { maxRekeysPerMinute: env.TETHER_MAX_REKEYS_PER_MINUTE }) },
          shell: {
            ...(env.TETHER_SHELL_GRACE_MS !== undefined && { graceMs: env.TETHER_SHELL_GRACE_MS }),
            ...(env.TETHER_SHELL_IDLE_MS !== undefined && { idleMs: env.TETHER_SHELL_IDLE_MS }),
            ...(env.TETHER_SHELL_RETENTION_DAYS !== undefined && { recordingRetentionMs: env.TETHER_SHELL_RETENTION_DAYS * 24 * 3600_000 }),
          },
        },
        log,
      );
      if (backend.generatedAdminPassword) {
        printOut(`First admin created: username "admin", password "${backend.generatedAdminPassword}" (shown once)\n`);
      }
      let stopping = false;
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.on(signal, () => {
          if (stopping) return;
          stopping = true;
          log.info({ signal }, 'shutting down');
          // A close that hangs must not outlive the service manager's stop timeout silently.
          setTimeout(() => {
            log.error('shutdown took too long; exiting');
            process.exit(1);
          }, 20_000).unref();
          void backend.close().then(() => process.exit(0));
        });
      }
    });

  const token = program.command('token').description('registration tokens');
  token
    .command('create')
    .description('create a registration token; prints it with the CA pin and the install command')
    .addOption(homeOption())
    .addOption(databaseUrlOption())
    .option('--ttl <duration>', 'lifetime, e.g. 30m, 1h, 7d', parseDuration, 24 * 3600)
    .option('--uses <n>', 'how many devices may enrol with it', parsePositiveInt, 1)
    .option('--tag <key=value>', 'tag applied to enrolled devices (repeatable)', collectTag, {} as Tags)
    .option('--approval', 'enrolled devices wait for approval')
    .option('--json', 'print JSON')
    .action(async (opts: { home: string; databaseUrl?: string; ttl: number; uses: number; tag: Tags; approval?: boolean; json?: boolean }) => {
      const home = resolve(opts.home);
      const pin = caPin(readFileSync(join(home, 'pki', 'ca.crt'), 'utf8'));
      const created = await withStore(home, opts.databaseUrl, ({ stores }) =>
        new TokenService(stores, new AuditLog(stores)).create({ ttlSeconds: opts.ttl, uses: opts.uses, tags: opts.tag, requireApproval: opts.approval ?? false }, cliActor()));
      const command = installCommand(readBackendInfo(home).publicUrl ?? 'https://localhost:8443', created.token, pin);
      if (opts.json) {
        printOut(`${JSON.stringify({ ...created, caPin: pin, installCommand: command }, null, 2)}\n`);
      } else {
        printOut(`token:   ${created.token}\nca pin:  ${pin}\nexpires: ${created.expiresAt ? new Date(created.expiresAt).toISOString() : 'never'}\nuses:    ${created.maxUses ?? 'unlimited'}\n\non the device:\n  ${command}\n`);
      }
    });

  program
    .command('ca')
    .description('certificate authority')
    .command('pin')
    .description('print the CA pin agents and consoles trust')
    .addOption(homeOption())
    .action((opts: { home: string }) => {
      printOut(`${caPin(readFileSync(join(resolve(opts.home), 'pki', 'ca.crt'), 'utf8'))}\n`);
    });

  program
    .command('user')
    .description('console users')
    .command('add')
    .description('add a user; the password is read from stdin')
    .addOption(homeOption())
    .addOption(databaseUrlOption())
    .requiredOption('--username <name>', 'login name')
    .addOption(new Option('--role <role>', 'role').choices(Role.options).makeOptionMandatory())
    .action(async (opts: { home: string; databaseUrl?: string; username: string; role: Role }) => {
      const password = await readStdin();
      const user = await withStore(resolve(opts.home), opts.databaseUrl, ({ stores }) =>
        new UserService(stores, new AuditLog(stores)).add(opts.username, password, opts.role, null, cliActor()));
      printOut(`added ${user.username} (${user.role})\n`);
    });

  addOpsCommands(program, homeOption);

  return program;
}

/** Runs the CLI; a TetherError prints `error CODE: message` and exits 1. */
export async function runBackendCli(argv: string[]): Promise<void> {
  try {
    await backendProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof TetherError) {
      printErr(`error ${err.code}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
