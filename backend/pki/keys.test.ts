import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateRsaKeyPair } from './keys.js';

describe('generateRsaKeyPair', () => {
  it('returns an SPKI public key and the matching PKCS#8 private key of the requested size', async () => {
    const keys = await generateRsaKeyPair(2048);
    expect(keys.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(keys.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const privateKey = createPrivateKey(keys.privateKeyPem);
    expect(privateKey.asymmetricKeyType).toBe('rsa');
    expect(privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' })).toBe(keys.publicKeyPem);
  });

  it('keeps the event loop running while it generates', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await generateRsaKeyPair(2048);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});
