import { z } from 'zod';
import {
  AGENT_SETTINGS_NAMESPACE,
  AgentSettings,
  ConfigLayerId,
  ConfigLayerWrite,
  ConfigNamespace,
  ConfigSchemaWrite,
  ConfigValues,
  TetherError,
  type ConfigDiff,
  type ConfigHistory,
  type ConfigLayer,
  type ConfigLayerKind,
  type ConfigRevision,
  type ConfigRollbackRequest,
  type ConfigSchemaEntry,
  type ConfigValidateResponse,
  type Tags,
} from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Stores } from '../store/stores.js';
import type { ConfigStore } from './config-store.js';
import { diffJson } from './json-diff.js';
import { checkDepth } from './layer-merge.js';
import type { SchemaValidator } from './schema-validator.js';

/** Largest serialized layer: the effective config must fit in one control frame (1 MiB) with room for several layers. */
export const MAX_LAYER_BYTES = 128 * 1024;
const MAX_HISTORY = 500;

/** The built-in schema of the reserved `agent` namespace, derived from the zod schema the agent parses with. */
export const AGENT_SETTINGS_SCHEMA = z.toJSONSchema(AgentSettings) as Record<string, unknown>;

/** What a revision of a layer stores: everything a rollback must restore. */
interface LayerContent {
  selector: Tags;
  priority: number;
  values: ConfigValues;
}
/** The write as it arrives: values stay unknown until depth is checked, since zod's JSON schema recurses. */
const LayerWriteBody = ConfigLayerWrite.extend({ values: z.unknown() });
const SchemaWriteBody = ConfigSchemaWrite.extend({ schema: z.unknown() });
const LayerContentSchema = z.object({ selector: z.record(z.string(), z.string()), priority: z.number().int(), values: ConfigValues });

export interface ConfigServiceDeps {
  stores: Pick<Stores, 'config' | 'transaction'>;
  validator: SchemaValidator;
  audit: AuditLog;
  /** Whether a device exists (device layers may only name real devices). */
  deviceExists(id: string): boolean;
  /** Called after every change that can alter effective configs, once it is committed. */
  onChange(): void;
  now?: () => number;
}

function kindOf(id: string): ConfigLayerKind {
  if (id === 'fleet') return 'fleet';
  return id.startsWith('group:') ? 'group' : 'device';
}

/**
 * The rules of layered configuration: validation against namespace schemas, optimistic versions
 * (a write names the version it started from; a stale one is refused, never merged), revisions
 * with author and message, diff and rollback, and the audit trail.
 *
 * Every write is one transaction that first takes the store's config write lock, then checks,
 * appends its revision, writes with a compare-and-set on the version it checked, and records its
 * audit entry: a conflict found at any point leaves no revision and no entry behind.
 */
export class ConfigService {
  private readonly now: () => number;

  private constructor(private readonly deps: ConfigServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Builds the service with the stored namespace schemas compiled. */
  static async create(deps: ConfigServiceDeps): Promise<ConfigService> {
    const service = new ConfigService(deps);
    // Compiled at start, not inside the first write after it: ajv's first compile holds the event loop for a few hundred ms.
    for (const { schema } of await service.schemas()) {
      try {
        deps.validator.compile(schema as Record<string, unknown>);
      } catch {
        // A stored schema that no longer compiles is reported by the write that needs it.
      }
    }
    return service;
  }

  async layers(): Promise<ConfigLayer[]> {
    const stored = await this.deps.stores.config.layers();
    if (!stored.some((l) => l.id === 'fleet')) stored.unshift(this.emptyLayer('fleet'));
    return stored;
  }

  /** The fleet layer always exists (empty at version 0); other layers are NOT_FOUND until written. */
  async layer(id: string): Promise<ConfigLayer> {
    const layer = await this.deps.stores.config.layer(this.parseId(id));
    if (layer) return layer;
    if (id === 'fleet') return this.emptyLayer('fleet');
    throw new TetherError('NOT_FOUND', `No config layer ${id}`);
  }

  /** Checks values for a layer without writing: shape, depth, size, then each namespace's schema. */
  async validate(layerId: string, values: unknown): Promise<ConfigValidateResponse> {
    try {
      this.parseId(layerId);
      await this.checkSchemas(this.checkShape(values), this.deps.stores.config);
      return { ok: true, errors: [] };
    } catch (err) {
      if (err instanceof ConfigValuesError) return { ok: false, code: err.code, errors: err.issues };
      if (err instanceof TetherError) return { ok: false, code: err.code, errors: [{ path: '', message: err.message }] };
      throw err;
    }
  }

  async putLayer(id: string, body: unknown, actor: string): Promise<ConfigLayer> {
    const layerId = this.parseId(id);
    const write = parseBody(LayerWriteBody, body);
    const kind = kindOf(layerId);
    if (kind === 'device' && !this.deps.deviceExists(layerId.slice('device:'.length))) throw new TetherError('DEVICE_UNKNOWN');
    const values = this.checkShape(write.values);
    const layer = await this.deps.stores.transaction(async (tx) => {
      await tx.config.lockWrites();
      await this.checkSchemas(values, tx.config);
      const current = await tx.config.layer(layerId);
      this.checkVersion(layerId, current?.version ?? 0, write.expectedVersion);
      const selector = kind === 'group' ? (write.selector ?? current?.selector ?? {}) : {};
      if (kind === 'group' && Object.keys(selector).length === 0) throw new TetherError('CONFIG_INVALID', 'A group layer needs a selector of at least one tag');
      const priority = kind === 'group' ? (write.priority ?? current?.priority ?? 0) : 0;
      const saved = await this.commit(tx, layerId, current, { selector, priority, values }, 'layer.put', write.message, actor);
      await this.deps.audit.record(actor, 'config.layer.put', layerId, { version: saved.version, message: write.message }, tx);
      return saved;
    });
    this.deps.onChange();
    return layer;
  }

  async deleteLayer(id: string, expectedVersion: number, actor: string, message = ''): Promise<{ version: number }> {
    const layerId = this.parseId(id);
    if (layerId === 'fleet') throw new TetherError('BAD_REQUEST', 'The fleet layer cannot be deleted; write it empty instead');
    const version = await this.deps.stores.transaction(async (tx) => {
      await tx.config.lockWrites();
      const current = await tx.config.layer(layerId);
      if (!current) throw new TetherError('NOT_FOUND', `No config layer ${layerId}`);
      this.checkVersion(layerId, current.version, expectedVersion);
      const revision = await tx.config.appendRevision({ ts: this.now(), author: actor, message, action: 'layer.delete', target: layerId, before: contentOf(current), after: null });
      if (!(await tx.config.deleteLayer(layerId, current.version))) throw this.conflict(layerId, expectedVersion);
      await this.deps.audit.record(actor, 'config.layer.delete', layerId, { version: revision, message }, tx);
      return revision;
    });
    this.deps.onChange();
    return { version };
  }

  /** Restores a layer's content as of `toVersion` as a new revision (history only grows). */
  async rollback(id: string, request: ConfigRollbackRequest, actor: string): Promise<ConfigLayer | null> {
    const layerId = this.parseId(id);
    const message = request.message ?? `rollback to version ${request.toVersion}`;
    const result = await this.deps.stores.transaction(async (tx) => {
      await tx.config.lockWrites();
      const old = await tx.config.contentAt(layerId, request.toVersion);
      let content: LayerContent | null = null;
      if (old !== null) {
        const parsed = LayerContentSchema.safeParse(old);
        if (!parsed.success) throw new TetherError('INTERNAL', `Revision content of ${layerId} is damaged`);
        // Schemas may have tightened since: an old value that breaks today's schema is refused like any write.
        content = { ...parsed.data, values: await this.checkSchemas(this.checkShape(parsed.data.values), tx.config) };
      } else if (layerId === 'fleet') {
        content = { selector: {}, priority: 0, values: {} };
      }
      const current = await tx.config.layer(layerId);
      this.checkVersion(layerId, current?.version ?? 0, request.expectedVersion);
      let layer: ConfigLayer | null = null;
      let version: number;
      if (content === null) {
        if (!current) throw new TetherError('NOT_FOUND', `${layerId} did not exist at version ${request.toVersion} and does not now`);
        version = await tx.config.appendRevision({ ts: this.now(), author: actor, message, action: 'layer.rollback', target: layerId, before: contentOf(current), after: null });
        if (!(await tx.config.deleteLayer(layerId, current.version))) throw this.conflict(layerId, request.expectedVersion);
      } else {
        layer = await this.commit(tx, layerId, current, content, 'layer.rollback', message, actor);
        version = layer.version;
      }
      await this.deps.audit.record(actor, 'config.layer.rollback', layerId, { version, toVersion: request.toVersion, message }, tx);
      return layer;
    });
    this.deps.onChange();
    return result;
  }

  async history(options: { target?: string; limit?: number; before?: number }): Promise<ConfigHistory> {
    return { revisions: await this.deps.stores.config.revisions({ target: options.target, before: options.before, limit: Math.min(options.limit ?? 100, MAX_HISTORY) }) };
  }

  async revision(version: number): Promise<ConfigRevision> {
    const revision = await this.deps.stores.config.revision(version);
    if (!revision) throw new TetherError('NOT_FOUND', `No config revision ${version}`);
    return revision;
  }

  /** What changed in `target` (a layer id or `schema:<namespace>`) between two versions. */
  async diff(target: string, from: number, to: number): Promise<ConfigDiff> {
    // A layer that did not exist yet (or was deleted) compares as an empty one, so the diff shows values, not structure.
    const empty = target.startsWith('schema:') ? {} : { selector: {}, priority: 0, values: {} };
    const [before, after] = await Promise.all([this.deps.stores.config.contentAt(target, from), this.deps.stores.config.contentAt(target, to)]);
    return { target, from, to, changes: diffJson(before ?? empty, after ?? empty) };
  }

  schemas(): Promise<ConfigSchemaEntry[]> {
    return this.schemasIn(this.deps.stores.config);
  }

  private async schemasIn(store: ConfigStore): Promise<ConfigSchemaEntry[]> {
    return [
      { namespace: AGENT_SETTINGS_NAMESPACE, schema: AGENT_SETTINGS_SCHEMA as ConfigSchemaEntry['schema'], version: 0, builtIn: true },
      ...(await store.schemas()).map((s) => ({ ...s, schema: s.schema as ConfigSchemaEntry['schema'], builtIn: false })),
    ];
  }

  /** Sets a namespace's schema; refused when a stored layer would break it, so no layer is ever left invalid. */
  async putSchema(namespace: string, body: unknown, actor: string): Promise<ConfigSchemaEntry> {
    if (!ConfigNamespace.safeParse(namespace).success) throw new TetherError('BAD_REQUEST', 'A namespace is lower case letters, digits, _ or -');
    if (namespace === AGENT_SETTINGS_NAMESPACE) throw new TetherError('CONFIG_NAMESPACE_RESERVED', `The ${namespace} namespace has a built-in schema`);
    const write = parseBody(SchemaWriteBody, body);
    checkDepth(write.schema);
    const parsedSchema = ConfigSchemaWrite.shape.schema.safeParse(write.schema);
    if (!parsedSchema.success) throw new TetherError('CONFIG_INVALID', 'A schema is a JSON object');
    const schema: Record<string, unknown> = parsedSchema.data;
    this.deps.validator.compile(schema);
    const target = `schema:${namespace}`;
    const version = await this.deps.stores.transaction(async (tx) => {
      // Under the write lock no layer can change between the check below and the commit.
      await tx.config.lockWrites();
      const current = (await tx.config.schemas()).find((s) => s.namespace === namespace);
      this.checkVersion(target, current?.version ?? 0, write.expectedVersion);
      for (const layer of await tx.config.layers()) {
        const value = layer.values[namespace];
        if (value === undefined) continue;
        const issues = this.deps.validator.issues(schema, value, `/${namespace}`);
        if (issues.length > 0) throw new TetherError('CONFIG_SCHEMA_VIOLATION', `Layer ${layer.id} does not satisfy this schema: ${formatIssues(issues)}`);
      }
      const revision = await tx.config.appendRevision({ ts: this.now(), author: actor, message: write.message, action: 'schema.put', target, before: current?.schema ?? null, after: schema });
      if (!(await tx.config.saveSchema({ namespace, schema, version: revision }, write.expectedVersion))) throw this.conflict(target, write.expectedVersion);
      await this.deps.audit.record(actor, 'config.schema.put', target, { version: revision, message: write.message }, tx);
      return revision;
    });
    return { namespace, schema: parsedSchema.data, version, builtIn: false };
  }

  /** Appends the revision and writes the layer at its number, if the layer is still at the version `current` had. */
  private async commit(tx: Pick<Stores, 'config'>, layerId: string, current: ConfigLayer | undefined, content: LayerContent, action: 'layer.put' | 'layer.rollback', message: string, actor: string): Promise<ConfigLayer> {
    const ts = this.now();
    const version = await tx.config.appendRevision({ ts, author: actor, message, action, target: layerId, before: current ? contentOf(current) : null, after: content });
    const layer = { id: layerId, kind: kindOf(layerId), ...content, version, updatedAt: ts, updatedBy: actor };
    const expected = current?.version ?? 0;
    if (!(await tx.config.saveLayer(layer, expected))) throw this.conflict(layerId, expected);
    return layer;
  }

  private checkVersion(target: string, current: number, expected: number): void {
    if (current !== expected) throw new TetherError('CONFIG_VERSION_CONFLICT', `${target} is at version ${current}, not ${expected}; reload and edit again`);
  }

  private conflict(target: string, expected: number): TetherError {
    return new TetherError('CONFIG_VERSION_CONFLICT', `${target} changed from version ${expected} meanwhile; reload and edit again`);
  }

  private parseId(id: string): string {
    const parsed = ConfigLayerId.safeParse(id);
    if (!parsed.success) throw new TetherError('BAD_REQUEST', 'A layer id is fleet, group:<name> or device:<device id>');
    return parsed.data;
  }

  private emptyLayer(id: string): ConfigLayer {
    return { id, kind: kindOf(id), selector: {}, priority: 0, values: {}, version: 0, updatedAt: null, updatedBy: null };
  }

  /** Shape, depth and size; throws a {@link ConfigValuesError} or PAYLOAD_TOO_LARGE. */
  private checkShape(values: unknown): ConfigValues {
    checkDepth(values);
    const shape = ConfigValues.safeParse(values);
    if (!shape.success) {
      throw new ConfigValuesError('CONFIG_INVALID', shape.error.issues.slice(0, 20).map((i) => ({ path: `/${i.path.map(String).join('/')}`, message: i.message })));
    }
    if (JSON.stringify(shape.data).length > MAX_LAYER_BYTES) throw new TetherError('PAYLOAD_TOO_LARGE', `A layer may hold at most ${MAX_LAYER_BYTES} bytes of JSON`);
    return shape.data;
  }

  /** Every namespace with a schema (as `store` has them); throws a {@link ConfigValuesError}. */
  private async checkSchemas(values: ConfigValues, store: ConfigStore): Promise<ConfigValues> {
    const schemas = new Map((await this.schemasIn(store)).map((s) => [s.namespace, s.schema as Record<string, unknown>]));
    const issues = Object.entries(values).flatMap(([namespace, value]) => {
      const schema = schemas.get(namespace);
      return schema ? this.deps.validator.issues(schema, value, `/${namespace}`) : [];
    });
    if (issues.length > 0) throw new ConfigValuesError('CONFIG_SCHEMA_VIOLATION', issues);
    return values;
  }
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new TetherError('BAD_REQUEST', parsed.error.issues[0]?.message ?? 'Malformed request');
  return parsed.data;
}

function contentOf(layer: ConfigLayer): LayerContent {
  return { selector: layer.selector, priority: layer.priority, values: layer.values };
}

function formatIssues(issues: Array<{ path: string; message: string }>): string {
  return issues.slice(0, 5).map((i) => `${i.path || '/'} ${i.message}`).join('; ');
}

/** A refused value with every issue found, so the console can show them all at once. */
export class ConfigValuesError extends TetherError {
  constructor(code: 'CONFIG_INVALID' | 'CONFIG_SCHEMA_VIOLATION', readonly issues: Array<{ path: string; message: string }>) {
    super(code, `${code === 'CONFIG_INVALID' ? 'Not a valid config' : 'Schema violation'}: ${formatIssues(issues)}`);
  }
}
