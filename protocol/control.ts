import { z } from 'zod';

/** Base64 of exactly `bytes` bytes. */
const b64 = (bytes?: number) =>
  z
    .string()
    .max(8192)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64')
    .refine((s) => bytes === undefined || Buffer_byteLength(s) === bytes, `${bytes ?? 0} bytes of base64`);

/** Decoded length of a base64 string without decoding (isomorphic: no Buffer here). */
function Buffer_byteLength(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

export const DeviceId = z.string().regex(/^dev_[a-z0-9]{20,40}$/, 'device id');
export type DeviceId = z.infer<typeof DeviceId>;

const Pem = z.string().min(64).max(16384).startsWith('-----BEGIN CERTIFICATE-----');

// ── Handshake (plaintext JSON text frames, before any sealed frame) ──────────

/** 1. agent → backend. `v` is checked before anything else so another version gets PROTOCOL_VERSION. */
export const Hello = z.object({
  type: z.literal('hello'),
  v: z.number().int(),
  deviceId: DeviceId,
  ephemeral: b64(32),
  nonce: b64(32),
});
export type Hello = z.infer<typeof Hello>;

/** 2. backend → agent: its ephemeral key, nonce, identity certificate and signature over the transcript. */
export const ServerHello = z.object({
  type: z.literal('server_hello'),
  v: z.number().int(),
  ephemeral: b64(32),
  nonce: b64(32),
  identityCert: Pem,
  signature: b64(),
});
export type ServerHello = z.infer<typeof ServerHello>;

/** 3. agent → backend: device certificate and signature over the transcript with the device key. */
export const ClientAuth = z.object({
  type: z.literal('client_auth'),
  cert: Pem,
  signature: b64(),
});
export type ClientAuth = z.infer<typeof ClientAuth>;

// ── Control messages (JSON inside sealed frames) ─────────────────────────────

export const RequestId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const WireError = z.object({ code: z.string().max(64), message: z.string().max(4096) });

export const ControlMessage = z.discriminatedUnion('type', [
  /** First sealed message, backend → agent: the handshake succeeded. */
  z.object({ type: z.literal('welcome'), deviceId: DeviceId, heartbeatMs: z.number().int().positive() }),
  z.object({ type: z.literal('ping'), ts: z.number() }),
  z.object({ type: z.literal('pong'), ts: z.number() }),
  z.object({
    type: z.literal('req'),
    id: RequestId,
    method: z.string().min(1).max(128),
    params: z.unknown(),
  }),
  z.object({
    type: z.literal('res'),
    id: RequestId,
    ok: z.boolean(),
    /** Present when ok. */
    result: z.unknown().optional(),
    /** Present when not ok. */
    error: WireError.optional(),
  }),
  z.object({ type: z.literal('evt'), name: z.string().min(1).max(128), data: z.unknown() }),
  /** Key rotation: agent → backend with a fresh ephemeral key; backend answers rekey_ack. */
  z.object({ type: z.literal('rekey'), ephemeral: b64(32), nonce: b64(32) }),
  z.object({ type: z.literal('rekey_ack'), ephemeral: b64(32), nonce: b64(32) }),
]);
export type ControlMessage = z.infer<typeof ControlMessage>;
export type ControlMessageType = ControlMessage['type'];
export const CONTROL_MESSAGE_TYPES: readonly ControlMessageType[] = [
  'welcome', 'ping', 'pong', 'req', 'res', 'evt', 'rekey', 'rekey_ack',
];
