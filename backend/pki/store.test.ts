import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, cp, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caPin } from '../../channel/pin.js';
import { CA_PIN_PATTERN } from '../../protocol/api.js';
import { generateRsaKeyPair } from './keys.js';
import { certificateToPem } from './pem.js';
import { rsaSha256Signer } from './signer.js';
import { loadOrCreatePki, PKI_FILES, pkiDir, type Pki } from './store.js';

const homes: string[] = [];
async function newHome(): Promise<string> {
  const home = await mkdtemp(path.join(tmpdir(), 'tether-pki-'));
  homes.push(home);
  return home;
}
/** Another home with the same files: tests that change files start from a copy, not from a new 1 s CA. */
async function copyOf(home: string): Promise<string> {
  const copy = await newHome();
  await cp(home, copy, { recursive: true });
  return copy;
}
const modeOf = async (file: string): Promise<number> => (await stat(file)).mode & 0o777;
const file = (home: string, name: keyof typeof PKI_FILES): string => path.join(pkiDir(home), PKI_FILES[name]);

let home: string;
let first: Pki;
beforeAll(async () => {
  home = await newHome();
  first = await loadOrCreatePki(home, ['fleet.example.com']);
});
afterAll(async () => {
  await Promise.all(homes.map((h) => rm(h, { recursive: true, force: true })));
});

describe('loadOrCreatePki, first start', () => {
  it('creates <home>/pki with mode 0700, private keys 0600 and certificates 0644', async () => {
    expect(await modeOf(pkiDir(home))).toBe(0o700);
    for (const key of ['caKey', 'serverKey', 'identityKey'] as const) expect(await modeOf(file(home, key))).toBe(0o600);
    for (const cert of ['caCert', 'serverCert', 'identityCert'] as const) expect(await modeOf(file(home, cert))).toBe(0o644);
  });

  it('leaves exactly the six files, no temporary ones', async () => {
    expect((await readdir(pkiDir(home))).sort()).toEqual(Object.values(PKI_FILES).sort());
  });

  it('stores what it returns', async () => {
    expect(await readFile(file(home, 'caCert'), 'utf8')).toBe(first.ca.certPem);
    expect(await readFile(file(home, 'caKey'), 'utf8')).toBe(first.ca.keyPem);
    expect(await readFile(file(home, 'serverCert'), 'utf8')).toBe(first.server.certPem);
    expect(await readFile(file(home, 'serverKey'), 'utf8')).toBe(first.server.keyPem);
    expect(await readFile(file(home, 'identityCert'), 'utf8')).toBe(first.identity.certPem);
    expect(await readFile(file(home, 'identityKey'), 'utf8')).toBe(first.identity.keyPem);
  });

  it('pins the CA key and issues the server and identity certificates from the CA', () => {
    expect(first.caPin).toMatch(CA_PIN_PATTERN);
    expect(first.caPin).toBe(caPin(first.ca.certPem));
    const ca = new X509Certificate(first.ca.certPem);
    expect(ca.ca).toBe(true);
    for (const pem of [first.server.certPem, first.identity.certPem]) {
      const x509 = new X509Certificate(pem);
      expect(x509.checkIssued(ca) && x509.verify(ca.publicKey)).toBe(true);
    }
    const server = new X509Certificate(first.server.certPem);
    expect(server.checkHost('fleet.example.com')).toBeDefined();
    expect(server.checkHost('localhost')).toBeDefined();
    expect(server.checkIP('127.0.0.1')).toBeDefined();
  });

  it('creates the home directory when it does not exist, and rejects a bad host name with BAD_REQUEST before writing', async () => {
    const missing = path.join(await newHome(), 'nested', 'home');
    await expect(loadOrCreatePki(missing, ['not a host name'])).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(stat(missing)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('loadOrCreatePki, later starts', () => {
  it('loads the same CA, pin and certificates', async () => {
    const again = await loadOrCreatePki(home, ['fleet.example.com']);
    expect(again).toEqual(first);
  });

  it('keeps the server certificate when the host names are ones it already covers', async () => {
    const again = await loadOrCreatePki(home, ['FLEET.example.com.', 'localhost', '127.0.0.1']);
    expect(again.server).toEqual(first.server);
  });

  it('reissues only the server certificate, from the same CA, when a new host name is configured', async () => {
    const copy = await copyOf(home);
    const again = await loadOrCreatePki(copy, ['fleet.example.com', 'fleet.internal', '10.1.2.3']);
    expect(again.caPin).toBe(first.caPin);
    expect(again.ca).toEqual(first.ca);
    expect(again.identity).toEqual(first.identity);
    expect(again.server.keyPem).not.toBe(first.server.keyPem);
    const server = new X509Certificate(again.server.certPem);
    expect(server.checkHost('fleet.internal')).toBeDefined();
    expect(server.checkIP('10.1.2.3')).toBeDefined();
    expect(server.checkHost('fleet.example.com')).toBeDefined();
    expect(await readFile(file(copy, 'serverCert'), 'utf8')).toBe(again.server.certPem);
    expect(await modeOf(file(copy, 'serverKey'))).toBe(0o600);
    // And the next start keeps it.
    expect((await loadOrCreatePki(copy, ['fleet.internal'])).server).toEqual(again.server);
  });

  it('reissues a server certificate that expires within 30 days', async () => {
    const soon = new Date(Date.parse(new X509Certificate(first.server.certPem).validTo) - 10 * 24 * 60 * 60 * 1000);
    const again = await loadOrCreatePki(await copyOf(home), ['fleet.example.com'], soon);
    expect(again.server.certPem).not.toBe(first.server.certPem);
    expect(again.ca).toEqual(first.ca);
  });

  it('repairs a server or identity pair whose key is missing or does not match', async () => {
    const copy = await copyOf(home);
    await unlink(file(copy, 'serverKey'));
    await writeFile(file(copy, 'identityKey'), first.server.keyPem);
    const again = await loadOrCreatePki(copy, ['fleet.example.com']);
    expect(again.caPin).toBe(first.caPin);
    expect(again.server.certPem).not.toBe(first.server.certPem);
    expect(again.identity.certPem).not.toBe(first.identity.certPem);
    expect(new X509Certificate(again.identity.certPem).checkPrivateKey(createPrivateKey(again.identity.keyPem))).toBe(true);
  });

  it('uses a server certificate the admin supplied as it is, even for host names it does not cover', async () => {
    const copy = await copyOf(home);
    const supplied = await selfSignedServerCert('admin.example.org');
    await writeFile(file(copy, 'serverCert'), supplied.certPem);
    await writeFile(file(copy, 'serverKey'), supplied.keyPem);
    const again = await loadOrCreatePki(copy, ['fleet.example.com']);
    expect(again.server).toEqual(supplied);
    expect(again.caPin).toBe(first.caPin);
    expect(await readFile(file(copy, 'serverCert'), 'utf8')).toBe(supplied.certPem);
  });

  it('refuses an admin-supplied server certificate whose key is missing or another key', async () => {
    const copy = await copyOf(home);
    await writeFile(file(copy, 'serverCert'), (await selfSignedServerCert('admin.example.org')).certPem);
    await expect(loadOrCreatePki(copy, [])).rejects.toThrow(/server\.key is not the private key of .*server\.crt/);
    await unlink(file(copy, 'serverKey'));
    await expect(loadOrCreatePki(copy, [])).rejects.toThrow(/supplied without its key/);
  });

  it('reissues the server and identity certificates of an earlier CA when the admin starts a new CA', async () => {
    const copy = await copyOf(home);
    await unlink(file(copy, 'caCert'));
    await unlink(file(copy, 'caKey'));
    const again = await loadOrCreatePki(copy, ['fleet.example.com']);
    expect(again.caPin).not.toBe(first.caPin);
    const ca = new X509Certificate(again.ca.certPem);
    for (const pem of [again.server.certPem, again.identity.certPem]) {
      const x509 = new X509Certificate(pem);
      expect(x509.checkIssued(ca) && x509.verify(ca.publicKey)).toBe(true);
    }
  });

  it('refuses to start a new CA when the CA key is lost', async () => {
    const copy = await copyOf(home);
    await unlink(file(copy, 'caKey'));
    await expect(loadOrCreatePki(copy, [])).rejects.toThrow(/ca\.key is missing/);
    expect(await readFile(file(copy, 'caCert'), 'utf8')).toBe(first.ca.certPem);
  });

  it('refuses a CA key that does not belong to the CA certificate, and a CA file that is not a certificate', async () => {
    const copy = await copyOf(home);
    await writeFile(file(copy, 'caKey'), first.server.keyPem);
    await expect(loadOrCreatePki(copy, [])).rejects.toThrow(/ca\.key is not the private key of .*ca\.crt/);
    await writeFile(file(copy, 'caCert'), 'garbage');
    await expect(loadOrCreatePki(copy, [])).rejects.toThrow(/ca\.crt is not a PEM certificate/);
  });

  it('tightens a pki directory an admin made world-readable', async () => {
    const copy = await copyOf(home);
    await chmod(pkiDir(copy), 0o755);
    await loadOrCreatePki(copy, []);
    expect(await modeOf(pkiDir(copy))).toBe(0o700);
  });
});

describe('serving TLS with the PKI', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    // The chain, leaf then CA: agents find the CA they pin in what the server sends.
    server = createServer({ cert: first.server.certPem + first.ca.certPem, key: first.server.keyPem }, (_req, res) => {
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const get = (options: { servername?: string; ca: string }): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false, ...options }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
      });
      req.on('error', reject).end();
    });

  it('is reachable by 127.0.0.1 and by localhost with only the CA trusted', async () => {
    expect(await get({ ca: first.ca.certPem })).toBe('ok');
    expect(await get({ ca: first.ca.certPem, servername: 'localhost' })).toBe('ok');
    expect(await get({ ca: first.ca.certPem, servername: 'fleet.example.com' })).toBe('ok');
  });

  it('is refused when another CA is trusted, or the name is not covered', async () => {
    const other = await selfSignedServerCert('other.example.org');
    await expect(get({ ca: other.certPem })).rejects.toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    await expect(get({ ca: first.ca.certPem, servername: 'elsewhere.example.org' })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });
});

async function selfSignedServerCert(hostname: string): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateRsaKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const name = [{ name: 'commonName', value: hostname }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 2, value: hostname }] }]);
  cert.sign(rsaSha256Signer(keys.privateKeyPem), forge.md.sha256.create());
  return { certPem: certificateToPem(cert), keyPem: keys.privateKeyPem };
}
