import { z } from 'zod';
import { ForwardAllowEntry } from './forward.js';
import { DeviceId } from './control.js';

/**
 * Remote configuration (ARCHITECTURE §5): layers fleet → groups (by tag selector, by priority)
 * → device, each a map of namespace → JSON object. Objects merge key by key; any other value
 * (array, string, number, boolean, null) replaces what a lower layer set.
 */

/** Deepest nesting a config value may have; merge and diff recurse, so the bound is a stack bound too. */
export const CONFIG_MAX_DEPTH = 32;

export const ConfigNamespace = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'namespace: lower case, digits, _ or -');
export type ConfigNamespace = z.infer<typeof ConfigNamespace>;

/** The reserved namespace holding the agent's own settings; its schema is built in and cannot be replaced. */
export const AGENT_SETTINGS_NAMESPACE = 'agent';

/** The agent's own settings; every field optional, so each layer may set just one. */
export const AgentSettings = z
  .object({
    /** How often the agent samples metrics. */
    samplingIntervalMs: z.number().int().min(100).max(3_600_000),
    /** Log sources the agent forwards (files or journald units). */
    logSources: z.array(z.string().min(1).max(1024)).max(64),
    /** The user remote shells run as. */
    shellUser: z.string().min(1).max(64).regex(/^[a-z_][a-z0-9_-]*$/),
    /** Absolute directories file transfer may read and write (default: the agent user's home and /tmp). */
    fileRoots: z.array(z.string().min(1).max(4096).regex(/^\//, 'an absolute path')).max(64),
    /** host:port entries TCP forwards and the web relay may reach (default: loopback, any port; `[]`: none). */
    forwardAllow: z.array(ForwardAllowEntry).max(256),
  })
  .partial()
  .strict();
export type AgentSettings = z.infer<typeof AgentSettings>;

/** Any JSON value. One instance, so the API document can name it once (it is recursive). */
export const JsonValue = z.json();
/** A namespace's value: a JSON object. */
export const ConfigObject = z.record(z.string().min(1).max(128), JsonValue);
/** A whole layer or effective config: namespace → JSON object. */
export const ConfigValues = z.record(ConfigNamespace, ConfigObject);
export type ConfigValues = z.infer<typeof ConfigValues>;

/** Tags a group layer selects on (same shape as device tags; not imported from api.ts to keep methods → config free of cycles). */
export const ConfigSelector = z.record(z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/), z.string().max(256));
export type ConfigSelector = z.infer<typeof ConfigSelector>;

const GROUP_NAME = '[a-z0-9][a-z0-9_-]{0,63}';
/** `fleet`, `group:<name>` or `device:<device id>`. */
export const ConfigLayerId = z.string().regex(new RegExp(`^(fleet|group:${GROUP_NAME}|device:dev_[a-z0-9]{20,40})$`), 'fleet, group:<name> or device:<id>');
export type ConfigLayerId = z.infer<typeof ConfigLayerId>;

export const ConfigLayerKind = z.enum(['fleet', 'group', 'device']);
export type ConfigLayerKind = z.infer<typeof ConfigLayerKind>;

export const ConfigLayer = z.object({
  id: ConfigLayerId,
  kind: ConfigLayerKind,
  /** Group layers: every tag must match the device's. */
  selector: ConfigSelector,
  /** Group layers: a higher priority is applied later and wins. */
  priority: z.number().int(),
  values: ConfigValues,
  /** The revision that last changed this layer; 0 when it has never been written. Writes must name it. */
  version: z.number().int().nonnegative(),
  updatedAt: z.number().nullable(),
  updatedBy: z.string().nullable(),
});
export type ConfigLayer = z.infer<typeof ConfigLayer>;

export const ConfigLayerList = z.object({ layers: z.array(ConfigLayer) });

export const ConfigLayerWrite = z.object({
  values: ConfigValues,
  /** The version the edit started from (0 to create); a stale one gets CONFIG_VERSION_CONFLICT. */
  expectedVersion: z.number().int().nonnegative(),
  message: z.string().max(1024).default(''),
  selector: ConfigSelector.optional(),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
});
export type ConfigLayerWrite = z.input<typeof ConfigLayerWrite>;

export const ConfigRollbackRequest = z.object({
  /** The revision whose content of this layer to restore. */
  toVersion: z.number().int().nonnegative(),
  expectedVersion: z.number().int().nonnegative(),
  message: z.string().max(1024).optional(),
});
export type ConfigRollbackRequest = z.infer<typeof ConfigRollbackRequest>;

export const ConfigRevisionAction = z.enum(['layer.put', 'layer.delete', 'layer.rollback', 'schema.put']);

/** One change; its number is the new version. `before`/`after` are the layer (or schema) content. */
export const ConfigRevision = z.object({
  version: z.number().int().positive(),
  ts: z.number(),
  author: z.string(),
  message: z.string(),
  action: ConfigRevisionAction,
  target: z.string(),
  before: z.unknown(),
  after: z.unknown(),
});
export type ConfigRevision = z.infer<typeof ConfigRevision>;

export const ConfigHistory = z.object({ revisions: z.array(ConfigRevision.omit({ before: true, after: true })) });
export type ConfigHistory = z.infer<typeof ConfigHistory>;

export const ConfigDiffEntry = z.object({
  /** JSON Pointer (RFC 6901) of the value that changed. */
  path: z.string(),
  kind: z.enum(['added', 'removed', 'changed']),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
});
export type ConfigDiffEntry = z.infer<typeof ConfigDiffEntry>;
export const ConfigDiff = z.object({ target: z.string(), from: z.number().int(), to: z.number().int(), changes: z.array(ConfigDiffEntry) });
export type ConfigDiff = z.infer<typeof ConfigDiff>;

export const ConfigSchemaEntry = z.object({
  namespace: ConfigNamespace,
  /** A JSON Schema (draft 2020-12 or 07) every layer's value of this namespace must satisfy. */
  schema: z.record(z.string(), JsonValue),
  version: z.number().int().nonnegative(),
  builtIn: z.boolean(),
});
export type ConfigSchemaEntry = z.infer<typeof ConfigSchemaEntry>;
export const ConfigSchemaList = z.object({ schemas: z.array(ConfigSchemaEntry) });
export const ConfigSchemaWrite = z.object({
  schema: z.record(z.string(), JsonValue),
  expectedVersion: z.number().int().nonnegative(),
  message: z.string().max(1024).default(''),
});
export type ConfigSchemaWrite = z.input<typeof ConfigSchemaWrite>;

/** What the agent did with a config it was sent. `rejected`: it failed validation; `failed`: the apply hook failed. */
export const ConfigApplyStatus = z.enum(['applied', 'failed', 'rejected']);
export type ConfigApplyStatus = z.infer<typeof ConfigApplyStatus>;

export const ConfigReport = z.object({
  version: z.number().int().nonnegative(),
  status: ConfigApplyStatus,
  error: z.string().max(4096).nullable(),
});
export type ConfigReport = z.infer<typeof ConfigReport>;

/** Delivery state of one device as the backend sees it. `pending`: desired not yet reported. */
export const ConfigDeviceStatus = z.object({
  deviceId: DeviceId,
  name: z.string(),
  online: z.boolean(),
  desiredVersion: z.number().int().nonnegative(),
  reported: ConfigReport.extend({ at: z.number() }).nullable(),
  state: z.enum(['pending', 'applied', 'failed', 'rejected']),
  /** Desired and reported differ (version or outcome). */
  drift: z.boolean(),
});
export type ConfigDeviceStatus = z.infer<typeof ConfigDeviceStatus>;
export const ConfigFleetStatus = z.object({ devices: z.array(ConfigDeviceStatus) });
export type ConfigFleetStatus = z.infer<typeof ConfigFleetStatus>;

export const EffectiveConfig = z.object({
  deviceId: DeviceId,
  version: z.number().int().nonnegative(),
  config: ConfigValues,
  /** JSON Pointer of each leaf value → the id of the layer it came from. */
  sources: z.record(z.string(), ConfigLayerId),
  /** The layers that apply to this device, lowest first. */
  layers: z.array(ConfigLayerId),
  status: ConfigDeviceStatus,
});
export type EffectiveConfig = z.infer<typeof EffectiveConfig>;

export const ConfigValidateRequest = z.object({
  layerId: ConfigLayerId,
  values: z.unknown(),
  /** Also answer what this device's effective config would become with these values saved (before saving). */
  previewDeviceId: DeviceId.optional(),
});
export const ConfigValidateResponse = z.object({
  ok: z.boolean(),
  code: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })),
  /** With `previewDeviceId` and valid values: the device's effective config as it would be after the save. */
  effective: z.object({ deviceId: DeviceId, config: ConfigValues, sources: z.record(z.string(), ConfigLayerId), layers: z.array(ConfigLayerId) }).optional(),
});
export type ConfigValidateResponse = z.infer<typeof ConfigValidateResponse>;

/** `config.apply` params: the device's whole effective config at `version`. */
export const ConfigApplyParams = z.object({ version: z.number().int().nonnegative(), config: ConfigValues });
export type ConfigApplyParams = z.infer<typeof ConfigApplyParams>;
