import { z } from 'zod';
import { DeviceId } from './control.js';
import { StreamId } from './shell.js';

/**
 * A host a forward connects to on the device's side: a name or an IP literal (IPv6 with or without
 * brackets). Never resolved by the backend; the agent checks it against its allow-list as written.
 */
export const ForwardHost = z.string().min(1).max(253).regex(/^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$/, 'a host name or IP address');
export const ForwardPort = z.number().int().min(1).max(65535);

/** Error codes a forward ends with (all in ERRORS). */
export const ForwardErrorCode = z.enum(['FORWARD_NOT_ALLOWED', 'FORWARD_REFUSED', 'FORWARD_TIMEOUT', 'FORWARD_UNREACHABLE', 'FORWARD_RESET', 'FORWARD_LIMIT', 'RATE_LIMITED_CHANNEL', 'DEVICE_OFFLINE']);
export type ForwardErrorCode = z.infer<typeof ForwardErrorCode>;

const Bytes = z.number().int().min(1).max(64 * 1024 * 1024);

/** Backend → agent requests of TCP forwards (merged into AGENT_METHODS). */
export const FORWARD_AGENT_METHODS = {
  /**
   * Connects to `host:port` when the agent's allow-list takes it; answers once connected (or with
   * FORWARD_NOT_ALLOWED / REFUSED / TIMEOUT / UNREACHABLE). Bytes the backend sends on `streamId`
   * are written to the socket; what the socket reads comes back on the same stream id.
   */
  'forward.open': {
    params: z.object({ streamId: StreamId, host: ForwardHost, port: ForwardPort }),
    result: z.object({}),
  },
  /** Destroys the socket at once (the operator's side went away). */
  'forward.close': { params: z.object({ streamId: StreamId }), result: z.object({ closed: z.boolean() }) },
} as const;

/** Agent → backend events of TCP forwards (merged into AGENT_EVENTS). */
export const FORWARD_AGENT_EVENTS = {
  /** The agent's socket took `bytes` more of what the backend sent (flow-control credit). */
  'forward.ack': z.object({ streamId: StreamId, bytes: Bytes }),
  /** The device-side peer half-closed (FIN): no more bytes follow on this stream. */
  'forward.end': z.object({ streamId: StreamId }),
  /** The socket is gone: cleanly (`code` null) or with an error code. The last event of a stream. */
  'forward.closed': z.object({ streamId: StreamId, code: ForwardErrorCode.nullable(), message: z.string().max(1024).optional() }),
} as const;

/** Backend → agent events of TCP forwards. */
export const FORWARD_BACKEND_EVENTS = {
  /** The operator's side took `bytes` more of the device's bytes. */
  'forward.ack': z.object({ streamId: StreamId, bytes: Bytes }),
  /** The operator's side half-closed: the agent ends (FIN) its socket once what was sent is written. */
  'forward.end': z.object({ streamId: StreamId }),
} as const;

/** Acks travel in batches, as the shell's do: at once from this many bytes, else after the delay. */
export const FORWARD_ACK_BATCH_BYTES = 32 * 1024;
export const FORWARD_ACK_DELAY_MS = 10;

/** Query of `GET /api/v1/devices/:id/forward` (a WebSocket upgrade): one TCP connection to host:port on the device. */
export const ForwardSocketQuery = z.object({
  host: ForwardHost.default('127.0.0.1'),
  port: z.coerce.number().pipe(ForwardPort),
});
export type ForwardSocketQuery = z.infer<typeof ForwardSocketQuery>;

/**
 * Client ↔ backend over a forward socket: binary frames are the connection's bytes both ways;
 * text frames are these control messages. A clean end is close 1000; an error is a close with
 * the code's close number and the code as reason (FORWARD_REFUSED → 4531, ...).
 */
export const ForwardClientMessage = z.discriminatedUnion('type', [
  /** The client's side half-closed: no more bytes from it. */
  z.object({ type: z.literal('end') }),
]);
export type ForwardClientMessage = z.infer<typeof ForwardClientMessage>;

export const ForwardServerMessage = z.discriminatedUnion('type', [
  /** First message: the device connected to the target. */
  z.object({ type: z.literal('opened'), forwardId: z.string(), deviceId: DeviceId, host: z.string(), port: ForwardPort }),
  /** The device's side half-closed. */
  z.object({ type: z.literal('end') }),
]);
export type ForwardServerMessage = z.infer<typeof ForwardServerMessage>;

/** `POST /api/v1/devices/:id/relay`: a relay grant for a web UI on the device's loopback. */
export const RelayGrantRequest = z.object({ port: ForwardPort });
export type RelayGrantRequest = z.infer<typeof RelayGrantRequest>;
export const RelayGrantResponse = z.object({
  /** Path to open in a browser (same origin as the API): `/relay/<device>/<port>/`. */
  path: z.string(),
  expiresAt: z.number(),
});
export type RelayGrantResponse = z.infer<typeof RelayGrantResponse>;

/** One allow-list entry of the agent's `forwardAllow` setting: `host:port`, port `*`, `N` or `N-M`; IPv6 in brackets. */
export const ForwardAllowEntry = z.string().max(300).regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.*-]+):(\*|\d{1,5}(-\d{1,5})?)$/, 'host:port, host:*, host:N-M');

/** What the agent allows when its settings name nothing: the device's loopback, any port. */
export const DEFAULT_FORWARD_ALLOW: readonly string[] = ['127.0.0.1:*', '[::1]:*', 'localhost:*'];
