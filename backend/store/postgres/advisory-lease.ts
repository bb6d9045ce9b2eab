import pg from 'pg';
import type { Logger } from 'pino';

/** The cluster leader's lock (any fixed 64-bit key; MIGRATION_LOCK is another). */
export const LEADER_LOCK = 7_415_263_002;
/** Held by a starting node while it decides on and runs its start-up clean-up. */
export const STARTUP_LOCK = 7_415_263_003;

export interface AdvisoryLeaseOptions {
  url: string;
  /** How often a follower tries to take the lock and the leader checks its connection (default 5 s). */
  intervalMs?: number;
  log: Logger;
  key?: number;
}

/**
 * The cluster's leader lease: a session-level PostgreSQL advisory lock held on a connection of
 * its own (not the pool's, whose connections come and go).
 *
 * Why PostgreSQL rather than a NATS key-value lease: the once-only work it guards (rollups,
 * retention, clean-up) writes to PostgreSQL, so the lock lives where that work happens and needs
 * no clock or TTL. When the leader dies its connection closes and PostgreSQL frees the lock at
 * once (kill -9: the kernel resets the socket; a lost host: TCP keepalive, set on below); the
 * next follower poll takes it, well within 30 s. A NATS lease would also step a leader down
 * during a NATS outage while PostgreSQL, where its work goes, is fine.
 *
 * The leader checks its connection every interval: when it fails, it stops leading at once
 * (another node may already hold the lock) and competes again on a new connection.
 * Note: a transaction-pooling proxy (PgBouncer in transaction mode) breaks session locks; point
 * --database-url at PostgreSQL or a session-pooling proxy.
 */
export class AdvisoryLease {
  private client: pg.Client | null = null;
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | null = null;
  private closed = false;
  private readonly listeners = new Set<(leader: boolean) => void>();
  private readonly key: number;

  constructor(private readonly options: AdvisoryLeaseOptions) {
    this.key = options.key ?? LEADER_LOCK;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  onChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tries once now (resolves when that try is done), then every interval. */
  async start(): Promise<void> {
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 5_000);
    this.timer.unref();
    await this.tick();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.ticking;
    const client = this.client;
    this.client = null;
    this.set(false);
    // Ending the session frees the lock: a follower takes it on its next poll.
    await client?.end().catch(() => undefined);
  }

  private tick(): Promise<void> {
    this.ticking ??= this.attempt().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async attempt(): Promise<void> {
    if (this.closed) return;
    try {
      const client = this.client ?? (await this.connect());
      if (this.leader) {
        await client.query('SELECT 1');
        return;
      }
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [this.key]);
      if (rows[0]?.locked === true && !this.closed) {
        this.set(true);
        this.options.log.info('leading the cluster (rollups, retention, clean-up)');
      }
    } catch (err) {
      this.options.log.warn({ err }, 'leader lease connection failed; competing again');
      this.drop();
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: 5_000, keepAlive: true, keepAliveInitialDelayMillis: 5_000, query_timeout: 5_000 });
    client.on('error', () => this.drop());
    this.client = client;
    await client.connect();
    return client;
  }

  /** The connection is gone or unusable: the lock with it, so this node leads no more. */
  private drop(): void {
    const client = this.client;
    this.client = null;
    if (this.leader) this.options.log.warn('no longer leading the cluster');
    this.set(false);
    client?.end().catch(() => undefined);
  }

  private set(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    for (const listener of this.listeners) listener(leader);
  }
}

/**
 * Runs `fn` holding a session advisory lock (waiting for it): nodes that start together decide
 * on their start-up clean-up one after another.
 */
export async function withAdvisoryLock<T>(pool: pg.Pool, key: number, fn: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [key]);
    try {
      return await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [key]);
    }
  } finally {
    client.release();
  }
}
