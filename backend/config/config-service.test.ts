import Database from 'better-sqlite3';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../audit/audit-log.js';
import { storesOnSqlite } from '../store/open-store.js';
import { migrate } from '../store/sqlite/db.js';
import { MAIN_MIGRATIONS } from '../store/migrations.js';
import { ConfigService } from './config-service.js';
import { SchemaValidator } from './schema-validator.js';

async function service() {
  const db = new Database(':memory:');
  migrate(db, MAIN_MIGRATIONS);
  const stores = storesOnSqlite(db);
  const onChange = vi.fn();
  const config = await ConfigService.create({ stores, validator: new SchemaValidator(), audit: new AuditLog(stores), deviceExists: () => false, onChange });
  return { stores, config, onChange };
}

const code = async (fn: () => Promise<unknown>): Promise<string | undefined> => {
  try {
    await fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('ConfigService', () => {
  it('versions every write and refuses a stale one without touching the layer', async () => {
    const { config, onChange } = await service();
    const first = await config.putLayer('fleet', { values: { app: { a: 1 } }, expectedVersion: 0, message: 'one' }, 'user:x');
    expect(first.version).toBe(1);
    expect(await code(() => config.putLayer('fleet', { values: { app: { a: 2 } }, expectedVersion: 0 }, 'user:y'))).toBe('CONFIG_VERSION_CONFLICT');
    expect(await config.layer('fleet')).toMatchObject({ version: 1, values: { app: { a: 1 } }, updatedBy: 'user:x' });
    expect(onChange).toHaveBeenCalledTimes(1);
    expect((await config.history({})).revisions).toHaveLength(1);
  });

  it('validates against namespace schemas and reports every issue', async () => {
    const { config } = await service();
    await config.putSchema('net', { schema: { type: 'object', properties: { port: { type: 'integer' }, host: { type: 'string' } } }, expectedVersion: 0 }, 'user:x');
    const result = await config.validate('fleet', { net: { port: 'x', host: 1 } });
    expect(result).toMatchObject({ ok: false, code: 'CONFIG_SCHEMA_VIOLATION' });
    expect(result.errors.map((e) => e.path).sort()).toEqual(['/net/host', '/net/port']);
    expect(await code(() => config.putLayer('fleet', { values: { net: { port: 'x' } }, expectedVersion: 0 }, 'user:x'))).toBe('CONFIG_SCHEMA_VIOLATION');
    expect(await config.validate('fleet', { net: ['not an object'] })).toMatchObject({ ok: false, code: 'CONFIG_INVALID' });
    expect(await code(() => config.putSchema('net2', { schema: { type: 'no-such-type' }, expectedVersion: 0 }, 'user:x'))).toBe('CONFIG_INVALID');
  });

  it('needs a selector for groups and a real device for device layers', async () => {
    const { config } = await service();
    expect(await code(() => config.putLayer('group:a', { values: {}, expectedVersion: 0 }, 'user:x'))).toBe('CONFIG_INVALID');
    expect(await code(() => config.putLayer('device:dev_aaaaaaaaaaaaaaaaaaaa', { values: {}, expectedVersion: 0 }, 'user:x'))).toBe('DEVICE_UNKNOWN');
    expect(await code(() => config.putLayer('team:a', { values: {}, expectedVersion: 0 }, 'user:x'))).toBe('BAD_REQUEST');
  });

  it('rolls back to an earlier version as a new revision, and a rollback to before a layer existed deletes it', async () => {
    const { config } = await service();
    const v1 = await config.putLayer('group:a', { selector: { site: 'a' }, values: { app: { c: 'blue' } }, expectedVersion: 0 }, 'user:x');
    const v2 = await config.putLayer('group:a', { values: { app: { c: 'red' } }, expectedVersion: v1.version }, 'user:x');
    expect(v2.selector).toEqual({ site: 'a' });
    const back = await config.rollback('group:a', { toVersion: v1.version, expectedVersion: v2.version }, 'user:x');
    expect(back).toMatchObject({ version: 3, values: { app: { c: 'blue' } }, selector: { site: 'a' } });
    expect((await config.diff('group:a', v1.version, v2.version)).changes).toEqual([{ path: '/values/app/c', kind: 'changed', before: 'blue', after: 'red' }]);
    expect(await config.rollback('group:a', { toVersion: 0, expectedVersion: 3 }, 'user:x')).toBeNull();
    expect(await code(() => config.layer('group:a'))).toBe('NOT_FOUND');
    expect((await config.history({ target: 'group:a' })).revisions.map((r) => r.action)).toEqual(['layer.rollback', 'layer.rollback', 'layer.put', 'layer.put']);
  });

  it('compiles the namespace schemas when it starts, so the first write after a start compiles nothing', async () => {
    const { stores, config } = await service();
    await config.putSchema('net', { schema: { type: 'object', properties: { port: { type: 'integer' } } }, expectedVersion: 0 }, 'user:x');
    const compile = vi.spyOn(Ajv2020.prototype, 'compile');
    try {
      const restarted = await ConfigService.create({ stores, validator: new SchemaValidator(), audit: new AuditLog(stores), deviceExists: () => false, onChange: () => undefined });
      expect(compile).toHaveBeenCalledTimes(2);
      compile.mockClear();
      await restarted.putLayer('fleet', { values: { agent: { samplingIntervalMs: 10_000 }, net: { port: 80 } }, expectedVersion: 0 }, 'user:x');
      expect(compile).not.toHaveBeenCalled();
    } finally {
      compile.mockRestore();
    }
  });
});
