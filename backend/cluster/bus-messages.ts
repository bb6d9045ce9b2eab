import { z } from 'zod';
import { Device, DeviceId, isErrorCode, TetherError } from '../../protocol/index.js';
import { RpcError } from '../../channel/rpc.js';
import type { FleetEvent } from '../devices/fleet-events.js';

/**
 * What backend nodes say to each other over NATS. Only backends speak it (never agents or
 * consoles), so it lives here rather than in protocol/; it is still parsed at the boundary like
 * any other bytes from outside the process. Payloads are JSON.
 */

/** A NATS subject token for a node id (host names carry dots, which split subjects). */
export function nodeToken(nodeId: string): string {
  return Buffer.from(nodeId, 'utf8').toString('base64url');
}

/** Every subject and bucket of one cluster, derived from its prefix (tests give each run its own). */
export function clusterNames(prefix: string) {
  return {
    /** Requests and emits for the devices one node holds. */
    node: (nodeId: string) => `${prefix}.node.${nodeToken(nodeId)}`,
    /** Bytes of streams across nodes, to one node (see BusStreams). */
    streams: (nodeId: string) => `${prefix}.stream.${nodeToken(nodeId)}`,
    /** Events devices sent, from every node. */
    deviceEvents: `${prefix}.device-events`,
    /** Revocations and other forced closes, to every node. */
    disconnect: `${prefix}.disconnect`,
    /** Live monitoring (ingested batches, alert transitions), to every node. */
    monitoring: `${prefix}.monitoring`,
    /** Fleet changes (enrolments, edits, removals), to every node. */
    fleet: `${prefix}.fleet`,
    /** Device id → node id, with a TTL; see DeviceLocations. */
    presenceBucket: `${prefix}-presence`,
    /** Node id → start time, with a TTL: which nodes are alive. */
    nodesBucket: `${prefix}-nodes`,
  };
}

/** Prefixes are subject tokens and bucket names: letters, digits, `_` and `-`. */
export const ClusterPrefix = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, _ and - (at most 40)');

const StreamHandle = z.number().int().min(1).max(0xffffffff);

/** The holder's answer to a `stream-open`: the stream's id on the device's link, and the holder's handle of it. */
export const OpenedStreamReply = z.object({ streamId: z.number().int().min(1).max(0xffffffff), handle: StreamHandle });
export type OpenedStreamReply = z.infer<typeof OpenedStreamReply>;

export const NodeMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('request'), deviceId: DeviceId, method: z.string().min(1).max(200), params: z.unknown(), timeoutMs: z.number().int().positive().max(3_600_000).optional() }),
  z.object({ type: z.literal('emit'), deviceIds: z.array(DeviceId).max(100_000), name: z.string().min(1).max(200), data: z.unknown() }),
  /** Open a stream on the device's link for `node`, whose handle of it is `handle`; answered with an OpenedStream. */
  z.object({ type: z.literal('stream-open'), deviceId: DeviceId, node: z.string().min(1).max(300), handle: StreamHandle }),
]);
export type NodeMessage = z.infer<typeof NodeMessage>;

/** The answer to a `request`; `kind` keeps the class the error had on the holding node. */
export const NodeReply = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), kind: z.enum(['tether', 'rpc']), code: z.string().max(100), message: z.string().max(2000) }),
]);
export type NodeReply = z.infer<typeof NodeReply>;

export const DeviceEventMessage = z.object({ origin: z.string(), deviceId: DeviceId, name: z.string().min(1).max(200), data: z.unknown() });
export type DeviceEventMessage = z.infer<typeof DeviceEventMessage>;

export const DisconnectMessage = z.object({ origin: z.string(), deviceId: DeviceId, code: z.string().refine(isErrorCode) });

export const FleetEventMessage = z.object({
  origin: z.string(),
  event: z.discriminatedUnion('type', [
    z.object({ type: z.literal('device.upsert'), device: Device }),
    z.object({ type: z.literal('device.removed'), id: DeviceId }),
  ]),
});

/** A presence entry's value: the node holding the device's control channel. */
export const PresenceValue = z.object({ node: z.string().min(1).max(300) });

/** Parses a JSON payload with `schema`; undefined when it is not JSON or does not match. */
export function parsePayload<T>(schema: z.ZodType<T>, data: Uint8Array): T | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export function encode(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** A failed device request as it crosses the bus. */
export function replyOfError(err: unknown): NodeReply {
  if (err instanceof TetherError) return { ok: false, kind: 'tether', code: err.code, message: err.message };
  if (err instanceof RpcError) return { ok: false, kind: 'rpc', code: err.code, message: err.message };
  return { ok: false, kind: 'tether', code: 'INTERNAL', message: 'Internal error' };
}

/** The error a failed reply stood for, of the class it had on the holding node. */
export function errorOfReply(reply: Extract<NodeReply, { ok: false }>): Error {
  if (reply.kind === 'rpc') return new RpcError(reply.code, reply.message);
  return isErrorCode(reply.code) ? new TetherError(reply.code, reply.message) : new TetherError('INTERNAL', reply.message);
}

/** Only enrolments, edits and removals cross the bus: online/offline comes from presence on every node. */
export function isRelayedFleetEvent(event: FleetEvent): event is Extract<FleetEvent, { type: 'device.upsert' | 'device.removed' }> {
  return event.type === 'device.upsert' || event.type === 'device.removed';
}
