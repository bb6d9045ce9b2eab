import { TetherError } from '../../protocol/index.js';

/**
 * SQLite result codes (better-sqlite3 puts them in `err.code`, extended codes included) that
 * mean the database cannot serve now but may later: the disk is full, an I/O error, a lock held
 * too long, the file cannot be opened or written. Constraint violations and misuse are not
 * among them: those are bugs or bad input, not an outage.
 */
const SQLITE_UNAVAILABLE = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN|READONLY|NOMEM|PROTOCOL)(_|$)/;
/**
 * PostgreSQL SQLSTATEs (pg puts them in `err.code`) and Node socket errors with the same meaning:
 * connection exceptions (08), serialization failure and deadlock (40001, 40P01), insufficient
 * resources such as a full disk (53), operator intervention such as a server shutting down (57P),
 * system errors (58), and a refused, reset or timed-out connection.
 */
const POSTGRES_UNAVAILABLE = /^(08...|40001|40P01|53...|57P0[1-4]|58...|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND)$/;
/** pg's own messages when it has no connection to give or the one it had is gone. */
const POSTGRES_CONNECTION_LOST = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/** The coded error for a database failure that is an outage, or undefined for any other error. */
export function storeUnavailable(err: unknown): TetherError | undefined {
  if (err instanceof TetherError) return err.code === 'STORE_UNAVAILABLE' ? err : undefined;
  const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : '';
  const message = err instanceof Error ? err.message : '';
  if (!SQLITE_UNAVAILABLE.test(code) && !POSTGRES_UNAVAILABLE.test(code) && !POSTGRES_CONNECTION_LOST.test(message)) return undefined;
  return new TetherError('STORE_UNAVAILABLE', `The database is unavailable (${code || message}); try again shortly`);
}

/**
 * Whether the store is serving: red from a failure until a write succeeds again (the ingest
 * queue's flushes are the steady writer that proves it), or, failing that, until `quietMs` pass
 * without another failure. /readyz reports it, so a load balancer stops sending work here.
 */
export class StoreHealth {
  private failedAt: number | null = null;
  private lastError = '';

  constructor(private readonly quietMs = 10_000, private readonly now: () => number = Date.now) {}

  failed(err: TetherError): void {
    this.failedAt = this.now();
    this.lastError = err.message;
  }

  succeeded(): void {
    this.failedAt = null;
  }

  get healthy(): boolean {
    return this.failedAt === null || this.now() - this.failedAt >= this.quietMs;
  }

  /** Why it is not healthy (for /readyz), or undefined. */
  get problem(): string | undefined {
    return this.healthy ? undefined : this.lastError;
  }
}
