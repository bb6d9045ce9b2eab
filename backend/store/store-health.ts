import { TetherError } from '../../protocol/index.js';

/**
 * SQLite result codes (better-sqlite3 puts them in `err.code`, extended codes included) that
 * mean the database cannot serve now but may later: the disk is full, an I/O error, a lock held
 * too long, the file cannot be opened or written. Constraint violations and misuse are not
 * among them: those are bugs or bad input, not an outage.
 */
const UNAVAILABLE = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN|READONLY|NOMEM|PROTOCOL)(_|$)/;

/** The coded error for a database failure that is an outage, or undefined for any other error. */
export function storeUnavailable(err: unknown): TetherError | undefined {
  if (err instanceof TetherError) return err.code === 'STORE_UNAVAILABLE' ? err : undefined;
  const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : '';
  if (!UNAVAILABLE.test(code)) return undefined;
  return new TetherError('STORE_UNAVAILABLE', `The database is unavailable (${code}); try again shortly`);
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
