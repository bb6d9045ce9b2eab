import { createPublicKey, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  clientSignedPayload,
  deriveSessionKeys,
  generateEphemeral,
  hkdfSha256,
  rekeySalt,
  serverSignedPayload,
  transcriptHash,
  x25519PrivateFromRaw,
  x25519Public,
  x25519Shared,
  type TranscriptInput,
} from './keys.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const fill = (bytes: number, value: number): Buffer => Buffer.alloc(bytes, value);
const code = (c: string) => expect.objectContaining({ code: c });

const transcript: TranscriptInput = {
  version: 1,
  deviceId: 'dev_abcdefghijklmnopqrstuvwx',
  clientEphemeral: fill(32, 1),
  clientNonce: fill(32, 2),
  serverEphemeral: fill(32, 3),
  serverNonce: fill(32, 4),
};

describe('x25519Shared', () => {
  it.each([
    // RFC 7748 §5.2
    [
      'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
      'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
      'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
    ],
    [
      '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
      'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
      '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
    ],
  ])('matches RFC 7748 §5.2 (scalar %s)', (scalar, u, out) => {
    expect(x25519Shared(x25519PrivateFromRaw(hex(scalar)), hex(u)).toString('hex')).toBe(out);
  });

  it('matches RFC 7748 §6.1 in both directions', () => {
    const alice = x25519PrivateFromRaw(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const bob = x25519PrivateFromRaw(hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    const alicePub = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    const bobPub = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(x25519Shared(alice, bobPub).toString('hex')).toBe(k);
    expect(x25519Shared(bob, alicePub).toString('hex')).toBe(k);
  });

  it.each([
    ['zero', '00'.repeat(32)],
    ['one', `01${'00'.repeat(31)}`],
    ['order 8', 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'],
    ['p - 1', `ec${'ff'.repeat(30)}7f`],
  ])('refuses the low-order peer key %s with HANDSHAKE_FAILED', (_name, peer) => {
    const { privateKey } = generateEphemeral();
    expect(() => x25519Shared(privateKey, hex(peer))).toThrow(code('HANDSHAKE_FAILED'));
  });

  it('refuses a peer key of the wrong length', () => {
    const { privateKey } = generateEphemeral();
    expect(() => x25519Shared(privateKey, fill(31, 9))).toThrow(code('HANDSHAKE_FAILED'));
  });

  it('derives public keys from the base point as RFC 7748 §6.1 does, and as the key object itself says', () => {
    const alice = x25519PrivateFromRaw(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const bob = x25519PrivateFromRaw(hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    expect(x25519Public(alice).toString('hex')).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(x25519Public(bob).toString('hex')).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    for (let i = 0; i < 20; i++) {
      const { privateKey, publicRaw } = generateEphemeral();
      expect(publicRaw.toString('base64url')).toBe(createPublicKey(privateKey).export({ format: 'jwk' }).x);
    }
  });

  it('agrees between two fresh ephemerals', () => {
    const a = generateEphemeral();
    const b = generateEphemeral();
    expect(a.publicRaw).toHaveLength(32);
    expect(x25519Shared(a.privateKey, b.publicRaw).equals(x25519Shared(b.privateKey, a.publicRaw))).toBe(true);
  });
});

describe('hkdfSha256', () => {
  it('matches RFC 5869 test case 1', () => {
    const okm = hkdfSha256(fill(22, 0x0b), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42);
    expect(okm.toString('hex')).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });
});

describe('transcriptHash', () => {
  it('matches the pinned vector', () => {
    expect(transcriptHash(transcript).toString('hex')).toBe('520d11a8c84db06388b38dbdc495ebb4548ef0b397c78f762b6b6abb11c56ae9');
  });

  it('changes with every field', () => {
    const base = transcriptHash(transcript);
    const variants: TranscriptInput[] = [
      { ...transcript, version: 2 },
      { ...transcript, deviceId: 'dev_abcdefghijklmnopqrstuvwy' },
      { ...transcript, clientEphemeral: fill(32, 9) },
      { ...transcript, clientNonce: fill(32, 9) },
      { ...transcript, serverEphemeral: fill(32, 9) },
      { ...transcript, serverNonce: fill(32, 9) },
    ];
    for (const v of variants) expect(transcriptHash(v).equals(base)).toBe(false);
  });

  it('refuses fields of the wrong length with HANDSHAKE_FAILED', () => {
    expect(() => transcriptHash({ ...transcript, clientNonce: fill(31, 2) })).toThrow(code('HANDSHAKE_FAILED'));
    expect(() => transcriptHash({ ...transcript, version: 0x10000 })).toThrow(code('HANDSHAKE_FAILED'));
  });

  it('labels server and client signatures differently', () => {
    const th = transcriptHash(transcript);
    expect(serverSignedPayload(th).equals(clientSignedPayload(th))).toBe(false);
  });
});

describe('deriveSessionKeys', () => {
  it('matches the pinned epoch-0 vector', () => {
    const k = deriveSessionKeys(fill(32, 0x11), transcriptHash(transcript), 0);
    expect(k.epoch).toBe(0);
    expect(k.c2sKey.toString('hex')).toBe('8d6e5cb6705845e5197285545734826219c065bf584f14b93167dda1deaf981a');
    expect(k.s2cKey.toString('hex')).toBe('21a8d3e0912feb1b54fba5206e86da840fa684578fef970d674342661b2d7f8b');
    expect(k.c2sIv.toString('hex')).toBe('735ddf95');
    expect(k.s2cIv.toString('hex')).toBe('be01b5e5');
  });

  it('equals WebCrypto HKDF-SHA256 with info "tether/v1/keys" || epoch', async () => {
    const shared = fill(32, 0x11);
    const salt = fill(32, 0x22);
    const epoch = 7;
    const info = Buffer.concat([Buffer.from('tether/v1/keys'), hex('00000007')]);
    const ikm = await webcrypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveBits']);
    const bits = await webcrypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, ikm, 72 * 8);
    const k = deriveSessionKeys(shared, salt, epoch);
    expect(Buffer.concat([k.c2sKey, k.s2cKey, k.c2sIv, k.s2cIv]).toString('hex')).toBe(Buffer.from(bits).toString('hex'));
  });

  it('gives distinct keys per direction and per epoch', () => {
    const a = deriveSessionKeys(fill(32, 0x11), fill(32, 0x22), 0);
    const b = deriveSessionKeys(fill(32, 0x11), fill(32, 0x22), 1);
    expect(a.c2sKey.equals(a.s2cKey)).toBe(false);
    expect(a.c2sKey.equals(b.c2sKey)).toBe(false);
  });
});

describe('rekeySalt', () => {
  it('matches the pinned vector and chains the previous salt', () => {
    const th = transcriptHash(transcript);
    const salt = rekeySalt(th, 0, fill(32, 5), fill(32, 6), fill(32, 7), fill(32, 8));
    expect(salt.toString('hex')).toBe('b5c8cdf1afd3a4553b63e1153f32010c59b10f2de462a28a0da13986779ccf10');
    expect(rekeySalt(fill(32, 0), 0, fill(32, 5), fill(32, 6), fill(32, 7), fill(32, 8)).equals(salt)).toBe(false);
    expect(rekeySalt(th, 1, fill(32, 5), fill(32, 6), fill(32, 7), fill(32, 8)).equals(salt)).toBe(false);
  });
});
