import { createPrivateKey, createPublicKey } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { createDeviceKeyAndCsr, type DeviceKeyAndCsr } from './csr.js';

const UTF8_STRING = 12;
const spkiDer = (pem: string): Buffer => createPublicKey(pem).export({ type: 'spki', format: 'der' });

describe('createDeviceKeyAndCsr', () => {
  let made: DeviceKeyAndCsr;
  beforeAll(async () => {
    made = await createDeviceKeyAndCsr('robot-7_lab');
  });

  it('makes an RSA-2048 PKCS#8 private key', () => {
    expect(made.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(made.keyPem);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('makes a CSR whose self-signature verifies, as the backend checks it', () => {
    expect(made.csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    expect(made.csrPem).not.toContain('\r');
    const csr = forge.pki.certificationRequestFromPem(made.csrPem);
    expect(csr.verify()).toBe(true);
    expect(csr.siginfo.algorithmOid).toBe(forge.pki.oids['sha256WithRSAEncryption']);
  });

  it('requests a certificate for the public key of the private key it returns', () => {
    const csr = forge.pki.certificationRequestFromPem(made.csrPem);
    const csrKey = csr.publicKey;
    if (csrKey === null) throw new Error('the CSR has no public key');
    const csrSpki = spkiDer(forge.pki.publicKeyToPem(csrKey));
    expect(csrSpki.equals(createPublicKey(createPrivateKey(made.keyPem)).export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('names the subject as asked, as a UTF8String so "_" is valid', () => {
    const cn = forge.pki.certificationRequestFromPem(made.csrPem).subject.getField('CN') as { value: string; valueTagClass: number };
    expect(cn.value).toBe('robot-7_lab');
    expect(cn.valueTagClass).toBe(UTF8_STRING);
  });

  it('names the subject tether-agent by default and makes a new key every time', async () => {
    const other = await createDeviceKeyAndCsr();
    const cn = forge.pki.certificationRequestFromPem(other.csrPem).subject.getField('CN') as { value: string };
    expect(cn.value).toBe('tether-agent');
    expect(spkiDer(other.keyPem).equals(spkiDer(made.keyPem))).toBe(false);
  });

  it('keeps the event loop running while it generates the key', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await createDeviceKeyAndCsr();
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });

  it('rejects an empty or over-long common name with BAD_REQUEST', async () => {
    for (const name of ['', 'n'.repeat(65)]) {
      const error: unknown = await createDeviceKeyAndCsr(name).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TetherError);
      expect(error).toMatchObject({ code: 'BAD_REQUEST' });
    }
  });
});
