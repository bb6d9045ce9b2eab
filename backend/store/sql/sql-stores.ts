import type { Kysely } from 'kysely';
import type { Engine, SqlContext } from '../engine.js';
import type { StoreSchema } from '../schema.js';
import type { Stores } from '../stores.js';
import { SqlAuditStore } from './audit-store.js';
import { SqlConfigStore } from './config-store.js';
import { SqlDeviceStore } from './device-store.js';
import { SqlRunStore } from './run-store.js';
import { SqlShellSessionStore } from './shell-session-store.js';
import { SqlTokenStore } from './token-store.js';
import { SqlUserStore } from './user-store.js';

/** The ports over Kysely, the same code for both engines; `inTransaction` makes nested calls join. */
export function createSqlStores(db: Kysely<StoreSchema>, engine: Engine, inTransaction = false): Stores {
  const ctx: SqlContext = { db, engine };
  const stores: Stores = {
    engine,
    tokens: new SqlTokenStore(ctx),
    audit: new SqlAuditStore(ctx),
    devices: new SqlDeviceStore(ctx),
    config: new SqlConfigStore(ctx),
    users: new SqlUserStore(ctx),
    runs: new SqlRunStore(ctx),
    shellSessions: new SqlShellSessionStore(ctx),
    transaction: (fn) => (inTransaction ? fn(stores) : db.transaction().execute((trx) => fn(createSqlStores(trx, engine, true)))),
  };
  return stores;
}
