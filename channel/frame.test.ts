import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodePayload,
  encodeControlPayload,
  encodeStreamPayload,
  streamPayloadPrefix,
  FRAME_HEADER_BYTES,
  FRAME_OVERHEAD,
  openFrame,
  readFrameHeader,
  sealFrame,
} from './frame.js';

const key = Buffer.alloc(32, 0x42);
const iv = Buffer.from('01020304', 'hex');
const plaintext = Buffer.from('\x01{"type":"ping","ts":1}');
const PINNED =
  '0000000301020304050607083b9225285cab546d0144cb6abfe9c61a7c3ab6dfc1fa89d3e346a2b5698b65b0811e7d3bdd3fd3';
const code = (c: string) => expect.objectContaining({ code: c });

describe('sealFrame / openFrame', () => {
  it('matches the pinned frame', () => {
    expect(sealFrame(key, iv, 3, 0x0102030405060708n, plaintext).toString('hex')).toBe(PINNED);
  });

  it('is AES-256-GCM with nonce = iv || counter and the header as AAD (WebCrypto cross-check)', async () => {
    const frame = Buffer.from(PINNED, 'hex');
    const header = frame.subarray(0, FRAME_HEADER_BYTES);
    const aes = await webcrypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
    const sealed = await webcrypto.subtle.encrypt(
      { name: 'AES-GCM', iv: Buffer.concat([iv, header.subarray(4)]), additionalData: header, tagLength: 128 },
      aes,
      plaintext,
    );
    expect(Buffer.concat([header, Buffer.from(sealed)]).toString('hex')).toBe(PINNED);
  });

  it('round-trips and reports the header', () => {
    const frame = sealFrame(key, iv, 7, 99n, plaintext);
    expect(frame).toHaveLength(plaintext.length + FRAME_OVERHEAD);
    expect(readFrameHeader(frame)).toEqual({ epoch: 7, counter: 99n });
    const opened = openFrame(key, iv, frame);
    expect(opened.epoch).toBe(7);
    expect(opened.counter).toBe(99n);
    expect(opened.plaintext.equals(plaintext)).toBe(true);
  });

  it('seals a plaintext given in parts exactly as the joined plaintext', () => {
    const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const joined = sealFrame(key, iv, 2, 5n, encodeStreamPayload(42, data));
    expect(sealFrame(key, iv, 2, 5n, [streamPayloadPrefix(42), data]).equals(joined)).toBe(true);
    expect(sealFrame(key, iv, 2, 5n, [Buffer.alloc(0), encodeStreamPayload(42, data), Buffer.alloc(0)]).equals(joined)).toBe(true);
  });

  it('round-trips an empty plaintext', () => {
    expect(openFrame(key, iv, sealFrame(key, iv, 0, 0n, Buffer.alloc(0))).plaintext).toHaveLength(0);
  });

  it('refuses a frame shorter than header + tag with FRAME_MALFORMED', () => {
    expect(() => openFrame(key, iv, Buffer.alloc(FRAME_OVERHEAD - 1))).toThrow(code('FRAME_MALFORMED'));
    expect(() => readFrameHeader(Buffer.alloc(3))).toThrow(code('FRAME_MALFORMED'));
  });

  it.each([0, 5, 11, 12, 20, 40])('refuses a flipped byte at %i with FRAME_AUTH_FAILED', (at) => {
    const frame = Buffer.from(PINNED, 'hex');
    frame[at] = (frame[at] ?? 0) ^ 0x01;
    expect(() => openFrame(key, iv, frame)).toThrow(code('FRAME_AUTH_FAILED'));
  });

  it('refuses the wrong key or direction IV with FRAME_AUTH_FAILED', () => {
    const frame = Buffer.from(PINNED, 'hex');
    expect(() => openFrame(Buffer.alloc(32, 0x43), iv, frame)).toThrow(code('FRAME_AUTH_FAILED'));
    expect(() => openFrame(key, Buffer.from('01020305', 'hex'), frame)).toThrow(code('FRAME_AUTH_FAILED'));
  });

  it('refuses out-of-range arguments', () => {
    expect(() => sealFrame(key, iv, -1, 0n, plaintext)).toThrow(RangeError);
    expect(() => sealFrame(key, iv, 2 ** 32, 0n, plaintext)).toThrow(RangeError);
    expect(() => sealFrame(key, iv, 0, 2n ** 64n, plaintext)).toThrow(RangeError);
    expect(() => sealFrame(key.subarray(1), iv, 0, 0n, plaintext)).toThrow(RangeError);
  });
});

describe('payload kinds', () => {
  it('encodes control JSON behind kind 0x01', () => {
    const p = encodeControlPayload('{"type":"pong","ts":2}');
    expect(p[0]).toBe(0x01);
    expect(decodePayload(p)).toEqual({ kind: 'control', json: '{"type":"pong","ts":2}' });
  });

  it('encodes stream data behind kind 0x02 and a u32 BE stream id', () => {
    const p = encodeStreamPayload(0x01020304, Uint8Array.of(0, 255, 7));
    expect(p.toString('hex')).toBe('020102030400ff07');
    const decoded = decodePayload(p);
    expect(decoded.kind).toBe('stream');
    if (decoded.kind !== 'stream') return;
    expect(decoded.streamId).toBe(0x01020304);
    expect([...decoded.data]).toEqual([0, 255, 7]);
  });

  it('refuses stream ids outside u32', () => {
    expect(() => encodeStreamPayload(-1, Uint8Array.of())).toThrow(RangeError);
    expect(() => encodeStreamPayload(2 ** 32, Uint8Array.of())).toThrow(RangeError);
  });

  it('refuses an empty plaintext, an unknown kind or a short stream header with FRAME_MALFORMED', () => {
    expect(() => decodePayload(Buffer.alloc(0))).toThrow(code('FRAME_MALFORMED'));
    expect(() => decodePayload(Buffer.from([0x03, 1, 2]))).toThrow(code('FRAME_MALFORMED'));
    expect(() => decodePayload(Buffer.from([0x02, 0, 0, 1]))).toThrow(code('FRAME_MALFORMED'));
  });

  it('refuses control text that is not UTF-8 with MESSAGE_MALFORMED', () => {
    expect(() => decodePayload(Buffer.from([0x01, 0xc3, 0x28]))).toThrow(code('MESSAGE_MALFORMED'));
  });
});
