import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TetherError } from '../protocol/errors.js';

/** epoch u32 BE + counter u64 BE; authenticated as the AES-GCM AAD. */
export const FRAME_HEADER_BYTES = 12;
export const FRAME_TAG_BYTES = 16;
/** Bytes a sealed frame adds to its plaintext. */
export const FRAME_OVERHEAD = FRAME_HEADER_BYTES + FRAME_TAG_BYTES;
export const MAX_FRAME_COUNTER = 2n ** 64n - 1n;

const KEY_BYTES = 32;
const IV_PREFIX_BYTES = 4;

/** First plaintext byte: what the rest of the plaintext is. */
export const FRAME_KIND = { control: 0x01, stream: 0x02 } as const;
const STREAM_ID_BYTES = 4;
/** Plaintext bytes besides the payload in a stream frame (kind + stream id). */
export const STREAM_PAYLOAD_OVERHEAD = 1 + STREAM_ID_BYTES;

export interface FrameHeader {
  epoch: number;
  counter: bigint;
}

export interface OpenedFrame extends FrameHeader {
  plaintext: Buffer;
}

/** A decoded plaintext: a control message's JSON text or a chunk of a byte stream. */
export type FramePayload = { kind: 'control'; json: string } | { kind: 'stream'; streamId: number; data: Buffer };

// fatal: invalid UTF-8 is a malformed message, not text with replacement characters.
const utf8 = new TextDecoder('utf-8', { fatal: true });

function checkKeyAndIv(key: Buffer, iv: Buffer): void {
  if (key.length !== KEY_BYTES || iv.length !== IV_PREFIX_BYTES) {
    throw new RangeError('A frame key is 32 bytes and its direction IV 4 bytes');
  }
}

function nonce(iv: Buffer, header: Buffer): Buffer {
  return Buffer.concat([iv, header.subarray(4, FRAME_HEADER_BYTES)]);
}

/**
 * Seals `plaintext` as header || ciphertext || tag. The nonce is the 4-byte direction IV followed
 * by the 8-byte counter, so a (key, counter) pair must never repeat: callers count up per epoch.
 * A plaintext given in parts is sealed as their concatenation without joining them first (a
 * stream frame's 5-byte prefix and its data), so bulk data is copied once, into the frame.
 */
export function sealFrame(key: Buffer, iv: Buffer, epoch: number, counter: bigint, plaintext: Uint8Array | readonly Uint8Array[]): Buffer {
  checkKeyAndIv(key, iv);
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff || counter < 0n || counter > MAX_FRAME_COUNTER) {
    throw new RangeError('Frame epoch or counter out of range');
  }
  const parts = plaintext instanceof Uint8Array ? [plaintext] : plaintext;
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const frame = Buffer.allocUnsafe(FRAME_OVERHEAD + length);
  const header = frame.subarray(0, FRAME_HEADER_BYTES);
  header.writeUInt32BE(epoch, 0);
  header.writeBigUInt64BE(counter, 4);
  const cipher = createCipheriv('aes-256-gcm', key, nonce(iv, header));
  cipher.setAAD(header);
  let offset = FRAME_HEADER_BYTES;
  for (const part of parts) offset += cipher.update(part).copy(frame, offset);
  offset += cipher.final().copy(frame, offset);
  cipher.getAuthTag().copy(frame, offset);
  return frame;
}

/** Reads (epoch, counter) without authenticating them; FRAME_MALFORMED when too short to be a frame. */
export function readFrameHeader(frame: Buffer): FrameHeader {
  if (frame.length < FRAME_OVERHEAD) throw new TetherError('FRAME_MALFORMED');
  return { epoch: frame.readUInt32BE(0), counter: frame.readBigUInt64BE(4) };
}

/** Authenticates and decrypts a sealed frame: FRAME_MALFORMED when too short, FRAME_AUTH_FAILED on a bad tag. */
export function openFrame(key: Buffer, iv: Buffer, frame: Buffer): OpenedFrame {
  checkKeyAndIv(key, iv);
  const { epoch, counter } = readFrameHeader(frame);
  const header = frame.subarray(0, FRAME_HEADER_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce(iv, header));
  decipher.setAAD(header);
  decipher.setAuthTag(frame.subarray(frame.length - FRAME_TAG_BYTES));
  const body = decipher.update(frame.subarray(FRAME_HEADER_BYTES, frame.length - FRAME_TAG_BYTES));
  let final: Buffer;
  try {
    final = decipher.final();
  } catch (cause) {
    throw new TetherError('FRAME_AUTH_FAILED', undefined, { cause });
  }
  return { epoch, counter, plaintext: final.length === 0 ? body : Buffer.concat([body, final]) };
}

/** Plaintext of a control message: kind 0x01 + UTF-8 JSON. */
export function encodeControlPayload(json: string): Buffer {
  const text = Buffer.from(json, 'utf8');
  const out = Buffer.allocUnsafe(1 + text.length);
  out[0] = FRAME_KIND.control;
  text.copy(out, 1);
  return out;
}

/** Plaintext of stream data: kind 0x02 + stream id u32 BE + raw bytes (never base64). */
export function encodeStreamPayload(streamId: number, data: Uint8Array): Buffer {
  return Buffer.concat([streamPayloadPrefix(streamId), data]);
}

/** The 5 bytes before a stream frame's data (kind + stream id), for sealing it in parts. */
export function streamPayloadPrefix(streamId: number): Buffer {
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > 0xffffffff) {
    throw new RangeError('A stream id is a u32');
  }
  const prefix = Buffer.allocUnsafe(STREAM_PAYLOAD_OVERHEAD);
  prefix[0] = FRAME_KIND.stream;
  prefix.writeUInt32BE(streamId, 1);
  return prefix;
}

/**
 * Splits a plaintext by its kind byte. FRAME_MALFORMED for an empty plaintext, an unknown kind
 * or a stream frame without its id; MESSAGE_MALFORMED for control text that is not UTF-8.
 */
export function decodePayload(plaintext: Buffer): FramePayload {
  switch (plaintext[0]) {
    case FRAME_KIND.control: {
      let json: string;
      try {
        json = utf8.decode(plaintext.subarray(1));
      } catch (cause) {
        throw new TetherError('MESSAGE_MALFORMED', undefined, { cause });
      }
      return { kind: 'control', json };
    }
    case FRAME_KIND.stream:
      if (plaintext.length < STREAM_PAYLOAD_OVERHEAD) throw new TetherError('FRAME_MALFORMED');
      return { kind: 'stream', streamId: plaintext.readUInt32BE(1), data: plaintext.subarray(STREAM_PAYLOAD_OVERHEAD) };
    default:
      throw new TetherError('FRAME_MALFORMED');
  }
}
