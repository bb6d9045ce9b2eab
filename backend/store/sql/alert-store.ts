import type { Kysely, Selectable } from 'kysely';
import type { AlertCondition, AlertEvent, AlertRule, AlertRuleInput } from '../../../protocol/index.js';
import type { AlertStore, AlertTransition } from '../../alerts/alert-store.js';
import type { SqlContext } from '../engine.js';
import type { AlertEventsTable, AlertRulesTable, StoreSchema } from '../schema.js';

function toRule(r: Selectable<AlertRulesTable>): AlertRule {
  return { id: r.id, name: r.name, condition: JSON.parse(r.condition) as AlertCondition, forMs: r.for_ms, scope: JSON.parse(r.scope) as Record<string, string>, enabled: r.enabled === 1, createdAt: r.created_at };
}

function toEvent(r: Selectable<AlertEventsTable>): AlertEvent {
  return { id: r.id, ruleId: r.rule_id, ruleName: r.rule_name, deviceId: r.device_id, state: r.state, ts: r.ts, value: r.value };
}

/** Runs `fn` in a transaction, or in the one `db` already is. */
function inTransaction<T>(db: Kysely<StoreSchema>, fn: (trx: Kysely<StoreSchema>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}

/**
 * Alert rules and events on both engines. alert_state holds each (rule, device)'s current state
 * and its last event: a transition is a conditional upsert of that row, and only the caller whose
 * statement changed it appends the event (on PostgreSQL a racing upsert waits for the first to
 * commit, then finds the state already changed).
 */
export class SqlAlertStore implements AlertStore {
  constructor(private readonly ctx: SqlContext) {}

  async listRules(): Promise<AlertRule[]> {
    const rows = await this.ctx.db.selectFrom('alert_rules').selectAll().orderBy('id').execute();
    return rows.map(toRule);
  }

  async createRule(input: AlertRuleInput, createdAt: number, max: number): Promise<AlertRule | undefined> {
    // INSERT ... SELECT ... WHERE count < max: the cap and the insert in one statement. Two racing
    // inserts at max - 1 may both pass on PostgreSQL (READ COMMITTED): a cap against runaway
    // scripts, not an exact count.
    const row = await this.ctx.db.insertInto('alert_rules')
      .columns(['name', 'condition', 'for_ms', 'scope', 'enabled', 'created_at'])
      .expression(this.ctx.db.selectNoFrom((eb) => [
        eb.cast(eb.val(input.name), 'text').as('name'),
        eb.cast(eb.val(JSON.stringify(input.condition)), 'text').as('condition'),
        eb.cast(eb.val(input.forMs), 'bigint').as('for_ms'),
        eb.cast(eb.val(JSON.stringify(input.scope)), 'text').as('scope'),
        eb.cast(eb.val(input.enabled ? 1 : 0), 'integer').as('enabled'),
        eb.cast(eb.val(createdAt), 'bigint').as('created_at'),
      ]).where((eb) => eb(eb.selectFrom('alert_rules').select((c) => c.fn.countAll<number>().as('n')), '<', max)))
      .returningAll()
      .executeTakeFirst();
    return row ? toRule(row) : undefined;
  }

  deleteRule(id: number): Promise<boolean> {
    return inTransaction(this.ctx.db, async (trx) => {
      await trx.deleteFrom('alert_state').where('rule_id', '=', id).execute();
      const result = await trx.deleteFrom('alert_rules').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  async listEvents(limit: number, deviceId?: string): Promise<AlertEvent[]> {
    let select = this.ctx.db.selectFrom('alert_events').selectAll();
    if (deviceId !== undefined) select = select.where('device_id', '=', deviceId);
    const rows = await select.orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toEvent);
  }

  async active(): Promise<AlertEvent[]> {
    const rows = await this.ctx.db.selectFrom('alert_state as s')
      .innerJoin('alert_events as e', 'e.id', 's.event_id')
      .selectAll('e')
      .where('s.state', '=', 'firing')
      .orderBy('e.id', 'desc')
      .execute();
    return rows.map(toEvent);
  }

  transition(t: AlertTransition): Promise<AlertEvent | undefined> {
    return inTransaction(this.ctx.db, async (trx) => {
      const key = { rule_id: t.rule.id, device_id: t.deviceId };
      const changed = t.state === 'firing'
        ? await trx.insertInto('alert_state').values({ ...key, state: 'firing', event_id: null })
          .onConflict((oc) => oc.columns(['rule_id', 'device_id']).doUpdateSet({ state: 'firing', event_id: null }).where('alert_state.state', '<>', 'firing'))
          .returning('rule_id').executeTakeFirst()
        : await trx.updateTable('alert_state').set({ state: 'resolved', event_id: null })
          .where('rule_id', '=', key.rule_id).where('device_id', '=', key.device_id).where('state', '=', 'firing')
          .returning('rule_id').executeTakeFirst();
      if (!changed) return undefined;
      const event = await trx.insertInto('alert_events')
        .values({ rule_id: t.rule.id, rule_name: t.rule.name, device_id: t.deviceId, state: t.state, ts: t.ts, value: t.value })
        .returningAll().executeTakeFirstOrThrow();
      await trx.updateTable('alert_state').set({ event_id: event.id }).where('rule_id', '=', key.rule_id).where('device_id', '=', key.device_id).execute();
      return toEvent(event);
    });
  }
}
