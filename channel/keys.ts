import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { TetherError } from '../protocol/errors.js';

/** Direction keys of one epoch. c2s = agent → backend, s2c = backend → agent. */
export interface SessionKeys {
  epoch: number;
  c2sKey: Buffer;
  s2cKey: Buffer;
  c2sIv: Buffer;
  s2cIv: Buffer;
}

export interface TranscriptInput {
  version: number;
  deviceId: string;
  clientEphemeral: Buffer;
  clientNonce: Buffer;
  serverEphemeral: Buffer;
  serverNonce: Buffer;
}

export const EPHEMERAL_BYTES = 32;
export const NONCE_BYTES = 32;

const TRANSCRIPT_LABEL = Buffer.from('tether/v1/handshake');
const SERVER_SIG_LABEL = Buffer.from('tether/v1/server-sig');
const CLIENT_SIG_LABEL = Buffer.from('tether/v1/client-sig');
const KEYS_LABEL = Buffer.from('tether/v1/keys');
const REKEY_LABEL = Buffer.from('tether/v1/rekey');

// Precomputed DER prefix of a PKCS#8 X25519 private key: only tests need to import raw scalars.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function u16be(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function requireLength(value: Buffer, bytes: number): Buffer {
  if (value.length !== bytes) throw new TetherError('HANDSHAKE_FAILED');
  return value;
}

/** SHA-256 over everything both sides said in the handshake, length-framed so no field can bleed into the next. */
export function transcriptHash(input: TranscriptInput): Buffer {
  const deviceId = Buffer.from(input.deviceId, 'utf8');
  if (deviceId.length > 0xffff || !Number.isInteger(input.version) || input.version < 0 || input.version > 0xffff) {
    throw new TetherError('HANDSHAKE_FAILED');
  }
  return createHash('sha256')
    .update(TRANSCRIPT_LABEL)
    .update(u16be(input.version))
    .update(u16be(deviceId.length))
    .update(deviceId)
    .update(requireLength(input.clientEphemeral, EPHEMERAL_BYTES))
    .update(requireLength(input.clientNonce, NONCE_BYTES))
    .update(requireLength(input.serverEphemeral, EPHEMERAL_BYTES))
    .update(requireLength(input.serverNonce, NONCE_BYTES))
    .digest();
}

/** What the backend identity key signs; the label keeps a server signature from passing as a client one. */
export function serverSignedPayload(th: Buffer): Buffer {
  return Buffer.concat([SERVER_SIG_LABEL, th]);
}

/** What the device key signs. */
export function clientSignedPayload(th: Buffer): Buffer {
  return Buffer.concat([CLIENT_SIG_LABEL, th]);
}

/** The X25519 base point (u = 9): X25519(k, 9) is the public key of scalar k (RFC 7748 §6.1). */
const X25519_BASE_POINT = createPublicKey({
  key: { kty: 'OKP', crv: 'X25519', x: Buffer.concat([Buffer.from([9]), Buffer.alloc(31)]).toString('base64url') },
  format: 'jwk',
});

/**
 * A fresh X25519 key pair; `publicRaw` is the 32-byte u-coordinate sent on the wire.
 *
 * Made from 32 random bytes (X25519 clamps any scalar) with the public key derived by
 * `diffieHellman` with the base point, not `generateKeyPairSync` + `export({format: 'jwk'})`:
 * on Node 20 that export holds the key's mutex while it allocates the string, and a garbage
 * collection then can run the finalizer of the key-generation job that made the key, which
 * takes the same mutex. The thread deadlocks (seen under gdb in a 10,000-agent benchmark:
 * ExportJWKEdKey → CollectGarbage → ~KeyGenJob → pthread_mutex_lock), and with it every
 * connection of the process. Neither a DER import nor `diffieHellman` allocates under the lock.
 */
export function generateEphemeral(): { privateKey: KeyObject; publicRaw: Buffer } {
  const privateKey = x25519PrivateFromRaw(randomBytes(32));
  return { privateKey, publicRaw: x25519Public(privateKey) };
}

/** The raw 32-byte public key of an X25519 private key. */
export function x25519Public(privateKey: KeyObject): Buffer {
  return diffieHellman({ privateKey, publicKey: X25519_BASE_POINT });
}

/** Imports a raw 32-byte X25519 scalar (for known-answer tests). */
export function x25519PrivateFromRaw(scalar: Buffer): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, requireLength(scalar, 32)]),
    format: 'der',
    type: 'pkcs8',
  });
}

/**
 * X25519 with a peer's raw public key. A low-order peer key yields the all-zero secret
 * (RFC 7748 §6.1), which would let the peer fix our keys: refused with HANDSHAKE_FAILED.
 */
export function x25519Shared(privateKey: KeyObject, peerPublicRaw: Buffer): Buffer {
  requireLength(peerPublicRaw, EPHEMERAL_BYTES);
  let shared: Buffer;
  try {
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: peerPublicRaw.toString('base64url') },
      format: 'jwk',
    });
    // OpenSSL itself fails the derivation on an all-zero result; either way it is HANDSHAKE_FAILED.
    shared = diffieHellman({ privateKey, publicKey });
  } catch (cause) {
    throw new TetherError('HANDSHAKE_FAILED', undefined, { cause });
  }
  if (shared.every((byte) => byte === 0)) throw new TetherError('HANDSHAKE_FAILED');
  return shared;
}

/** HKDF-SHA256 (RFC 5869), extract and expand. */
export function hkdfSha256(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/** Keys of one epoch. Epoch 0 uses the transcript hash as salt; later epochs use {@link rekeySalt}. */
export function deriveSessionKeys(shared: Buffer, salt: Buffer, epoch: number): SessionKeys {
  const okm = hkdfSha256(shared, salt, Buffer.concat([KEYS_LABEL, u32be(epoch)]), 72);
  return {
    epoch,
    c2sKey: okm.subarray(0, 32),
    s2cKey: okm.subarray(32, 64),
    c2sIv: okm.subarray(64, 68),
    s2cIv: okm.subarray(68, 72),
  };
}

/**
 * Salt of epoch `epoch + 1`: chains the previous salt (and so the original transcript) into
 * every later epoch, so a rotation cannot be spliced from another session.
 */
export function rekeySalt(
  prevSalt: Buffer,
  epoch: number,
  clientEph: Buffer,
  clientNonce: Buffer,
  serverEph: Buffer,
  serverNonce: Buffer,
): Buffer {
  return createHash('sha256')
    .update(REKEY_LABEL)
    .update(prevSalt)
    .update(u32be(epoch))
    .update(requireLength(clientEph, EPHEMERAL_BYTES))
    .update(requireLength(clientNonce, NONCE_BYTES))
    .update(requireLength(serverEph, EPHEMERAL_BYTES))
    .update(requireLength(serverNonce, NONCE_BYTES))
    .digest();
}
