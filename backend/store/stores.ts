import type { AuditStore } from '../audit/audit-store.js';
import type { ConfigStore } from '../config/config-store.js';
import type { UserStore } from '../auth/user-store.js';
import type { DeviceStore } from '../devices/device-store.js';
import type { TokenStore } from '../enrol/token-store.js';
import type { RunStore } from '../jobs/run-store.js';
import type { ShellSessionStore } from '../shell/shell-session-store.js';
import type { Engine } from './engine.js';

/**
 * Every repository port the services use, on one engine. Services depend on these interfaces;
 * the composition root (backend/store/open-store.ts) picks the engine.
 */
export interface Stores {
  readonly engine: Engine;
  readonly tokens: TokenStore;
  readonly audit: AuditStore;
  readonly devices: DeviceStore;
  readonly config: ConfigStore;
  readonly users: UserStore;
  readonly runs: RunStore;
  readonly shellSessions: ShellSessionStore;
  /**
   * Runs `fn` in one transaction and commits when it resolves; a throw rolls everything back.
   * `tx` holds the same ports, bound to the transaction. A call inside a transaction joins it.
   * Atomic invariants are still the ports' job (conditional updates): on PostgreSQL this is
   * READ COMMITTED, so a read here does not lock what it read.
   */
  transaction<T>(fn: (tx: Stores) => Promise<T>): Promise<T>;
}
