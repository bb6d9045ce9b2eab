import type { Logger } from 'pino';
import type { Stores } from '../store/stores.js';

export interface OrphanSweeperDeps {
  stores: Pick<Stores, 'runs' | 'shellSessions'>;
  /** Instances of the live nodes, this one's included. */
  aliveInstances(): Promise<ReadonlySet<string>>;
  /** Only the leader sweeps. */
  leads(): boolean;
  log: Logger;
  /** How long an owner must stay missing before its work is ended (a heartbeat missed in a NATS hiccup is not a death). */
  graceMs?: number;
  now?: () => number;
}

/** On top of the node TTL (20 s, four missed heartbeats): an owner missing that long has died. */
export const DEFAULT_ORPHAN_GRACE_MS = 5_000;
export const ORPHAN_SWEEP_INTERVAL_MS = 5_000;
const REASON = 'The backend node running it stopped';

/**
 * Ends the work a dead node left open: its unfinished runs and jobs become cancelled, its shell
 * sessions end (GOING_AWAY). A cold start ends everything open; this covers a node that dies
 * while others live on. The leader reads which owners have open work and which are alive; an
 * owner missing for `graceMs` on consecutive sweeps is dead.
 */
export class OrphanSweeper {
  /** Owners with open work that were not alive, and since when. */
  private readonly missingSince = new Map<string, number>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | null = null;

  constructor(private readonly deps: OrphanSweeperDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(intervalMs = ORPHAN_SWEEP_INTERVAL_MS): void {
    this.timer = setInterval(() => {
      this.pass ??= this.sweep()
        .then(() => undefined, (err: unknown) => this.deps.log.warn({ err }, 'orphan sweep failed; tried again next time'))
        .finally(() => (this.pass = null));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pass;
  }

  /** One pass; returns the owners whose work it ended. */
  async sweep(): Promise<string[]> {
    if (!this.deps.leads()) {
      this.missingSince.clear();
      return [];
    }
    const { runs, shellSessions } = this.deps.stores;
    const owners = new Set([...(await runs.openOwners()), ...(await shellSessions.openOwners())]);
    const alive = await this.deps.aliveInstances();
    const now = this.now();
    const ended: string[] = [];
    for (const owner of owners) {
      if (alive.has(owner)) continue;
      const since = this.missingSince.get(owner) ?? now;
      this.missingSince.set(owner, since);
      if (now - since < (this.deps.graceMs ?? DEFAULT_ORPHAN_GRACE_MS)) continue;
      const work = await runs.endOwnedBy(owner, now, REASON);
      const sessions = await shellSessions.endOwnedBy(owner, now);
      this.deps.log.info({ owner, runs: work.runs, jobs: work.jobs, sessions }, 'ended the work of a backend node that stopped');
      ended.push(owner);
    }
    for (const owner of this.missingSince.keys()) if (!owners.has(owner) || alive.has(owner)) this.missingSince.delete(owner);
    for (const owner of ended) this.missingSince.delete(owner);
    return ended;
  }
}
