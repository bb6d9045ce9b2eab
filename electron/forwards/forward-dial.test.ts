import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { spkiPin } from '../pinned-certificate.js';
import { fetchPinnedCaPem } from './forward-dial.js';

function selfSigned(): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'Test CA' }]);
  cert.setIssuer([{ name: 'commonName', value: 'Test CA' }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

describe('fetchPinnedCaPem', () => {
  const pem = selfSigned();
  const pin = spkiPin(new X509Certificate(pem));
  const profile = (caPin: string) => ({ id: 'prof_aaaaaaaa', name: 'Lab', url: 'https://lab.example', caPin });
  const serve = (text: string) => async (url: string) => {
    expect(url).toBe('https://lab.example/ca.crt');
    return { text: async () => text };
  };

  it('takes the CA certificate whose SPKI matches the pin', async () => {
    expect(await fetchPinnedCaPem(profile(pin), serve(pem))).toBe(pem);
  });

  it('refuses another CA, or something that is not a certificate, with CA_PIN_MISMATCH', async () => {
    await expect(fetchPinnedCaPem(profile(`sha256:${'0'.repeat(64)}`), serve(pem))).rejects.toMatchObject({ code: 'CA_PIN_MISMATCH' });
    await expect(fetchPinnedCaPem(profile(pin), serve('<html>'))).rejects.toMatchObject({ code: 'CA_PIN_MISMATCH' });
  });
});
