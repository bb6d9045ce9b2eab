import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { caPin } from '../channel/pin.js';
import { pinnedCaOf as pinnedCaOfHost } from '../channel/pinned-ca.js';
import { TetherError } from '../protocol/index.js';
import { CliError } from './cli-error.js';
import { backendOrigin } from './pinned-ca.js';

const spkiPin = (cert: X509Certificate) => caPin(cert.toString());
const pinnedCaOf = (chain: X509Certificate[], pin: string) => pinnedCaOfHost(chain, pin, 'fleet.example.com');

// cli/ may not import backend/pki, so a small CA is made here with forge, as the backend does.

function keyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

let serial = 1;
function issue(subject: string, key: { publicKeyPem: string }, issuer: { name: string; key: { privateKeyPem: string } } | 'self', extensions: object[], selfKey?: { privateKeyPem: string }): X509Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(key.publicKeyPem);
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: issuer === 'self' ? subject : issuer.name }]);
  cert.setExtensions(extensions);
  const signer = issuer === 'self' ? selfKey : issuer.key;
  cert.sign(forge.pki.privateKeyFromPem(signer?.privateKeyPem ?? ''), forge.md.sha256.create());
  return new X509Certificate(forge.pki.certificateToPem(cert));
}

const caKey = keyPair();
const ca = issue('Tether CA', caKey, 'self', [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true }], caKey);
const otherKey = keyPair();
const otherCa = issue('Tether CA', otherKey, 'self', [{ name: 'basicConstraints', cA: true }], otherKey);
const leafKey = keyPair();
const server = issue('backend', leafKey, { name: 'Tether CA', key: caKey }, [{ name: 'extKeyUsage', serverAuth: true }]);
const device = issue('dev_x', leafKey, { name: 'Tether CA', key: caKey }, [{ name: 'extKeyUsage', clientAuth: true }]);
const forged = issue('backend', leafKey, { name: 'Tether CA', key: otherKey }, [{ name: 'extKeyUsage', serverAuth: true }]);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof CliError || err instanceof TetherError ? err.code : 'not a coded error';
  }
  return undefined;
}

describe('pinnedCaOf (the CA pin check the CLI shares with the agent)', () => {
  const pin = spkiPin(ca);

  it('the pin is sha256 of the SPKI, and the CA of a proper chain is returned', () => {
    expect(pin).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pinnedCaOf([server, ca], pin).fingerprint256).toBe(ca.fingerprint256);
  });

  it('refuses, with CA_PIN_MISMATCH, a chain without the pinned key', () => {
    expect(codeOf(() => pinnedCaOf([server, ca], spkiPin(otherCa)))).toBe('CA_PIN_MISMATCH');
    expect(codeOf(() => pinnedCaOf([], pin))).toBe('CA_PIN_MISMATCH');
  });

  it('refuses a leaf the pinned CA did not sign, even when the CA is sent along', () => {
    expect(codeOf(() => pinnedCaOf([forged, ca], pin))).toBe('CA_PIN_MISMATCH');
  });

  it('refuses a device certificate of the same CA posing as the backend', () => {
    expect(codeOf(() => pinnedCaOf([device, ca], pin))).toBe('CA_PIN_MISMATCH');
  });
});

describe('backendOrigin', () => {
  it('keeps https origins, takes wss, refuses the rest with BAD_REQUEST', () => {
    expect(backendOrigin('https://fleet.example.com:8443/console').origin).toBe('https://fleet.example.com:8443');
    expect(backendOrigin('wss://fleet.example.com').origin).toBe('https://fleet.example.com');
    expect(codeOf(() => backendOrigin('http://fleet.example.com'))).toBe('BAD_REQUEST');
    expect(codeOf(() => backendOrigin('https://u:p@fleet.example.com'))).toBe('BAD_REQUEST');
    expect(codeOf(() => backendOrigin('fleet'))).toBe('BAD_REQUEST');
  });
});
