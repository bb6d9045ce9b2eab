import { constants, createPrivateKey, randomBytes, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { ClientAuth, Hello, ServerHello } from '../protocol/control.js';
import { TetherError, type ErrorCode } from '../protocol/errors.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import {
  clientSignedPayload,
  deriveSessionKeys,
  generateEphemeral,
  NONCE_BYTES,
  serverSignedPayload,
  transcriptHash,
  x25519Shared,
  type SessionKeys,
} from './keys.js';
import { caPin } from './pin.js';

/**
 * Subject CN of the backend's handshake identity certificate. Device certificates come from the
 * same CA, so without this check any enrolled device could pose as the backend to other devices.
 */
export const BACKEND_IDENTITY_CN = 'tether-backend-identity';

/** What a finished handshake hands to {@link SecureSession}: epoch-0 keys and the salt the rekey chain starts from. */
export interface Established {
  keys: SessionKeys;
  /** The transcript hash: the epoch-0 salt. */
  salt: Buffer;
}

export interface ClientHandshakeOptions {
  deviceId: string;
  deviceCertPem: string;
  deviceKeyPem: string;
  caCertPem: string;
  /** `sha256:<hex>` as {@link caPin} gives it. */
  caPin: string;
  /** Only tests send another version. */
  version?: number;
  now?: () => number;
}

export interface ServerHandshakeOptions {
  identityCertPem: string;
  /** PEM, or a parsed key: a backend accepting thousands of devices parses its key once. */
  identityKeyPem: string | KeyObject;
  /** PEM, or a parsed certificate, for the same reason as the key. */
  caCertPem: string | X509Certificate;
  now?: () => number;
}

const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } as const;

function signPss(key: KeyObject, data: Buffer): string {
  return sign('sha256', data, { key, ...PSS }).toString('base64');
}

function verifyPss(key: KeyObject, data: Buffer, signatureB64: string): boolean {
  if (key.asymmetricKeyType !== 'rsa') return false;
  try {
    return verify('sha256', data, { key, ...PSS }, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

function parseCert(pem: string, code: ErrorCode): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw new TetherError(code, undefined, { cause });
  }
}

/** An end-entity certificate signed by `ca` and valid at `now`. */
function issuedBy(cert: X509Certificate, ca: X509Certificate, now: number): boolean {
  return (
    !cert.ca &&
    cert.checkIssued(ca) &&
    cert.verify(ca.publicKey) &&
    Date.parse(cert.validFrom) <= now &&
    now <= Date.parse(cert.validTo)
  );
}

function commonNames(cert: X509Certificate): string[] {
  return cert.subject
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => line.slice(3));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A peer speaking another version gets PROTOCOL_VERSION, not a schema error, so it can tell the user. */
function checkVersion(raw: unknown): void {
  if (isRecord(raw) && 'v' in raw && raw.v !== PROTOCOL_VERSION) throw new TetherError('PROTOCOL_VERSION');
}

function b64(value: string): Buffer {
  return Buffer.from(value, 'base64');
}

/**
 * Agent side of the control-channel handshake (ARCHITECTURE §3): `hello()`, then
 * `onServerHello(msg)` gives the `client_auth` to send and the epoch-0 keys.
 * Each step runs once, in order; any failure leaves the handshake unusable.
 */
export class ClientHandshake {
  private state: 'new' | 'hello_sent' | 'done' | 'failed' = 'new';
  private readonly ephemeral = generateEphemeral();
  private readonly nonce = randomBytes(NONCE_BYTES);
  private readonly deviceKey: KeyObject;
  private readonly version: number;
  private readonly now: () => number;

  constructor(private readonly opts: ClientHandshakeOptions) {
    this.deviceKey = createPrivateKey(opts.deviceKeyPem);
    this.version = opts.version ?? PROTOCOL_VERSION;
    this.now = opts.now ?? Date.now;
  }

  hello(): Hello {
    if (this.state !== 'new') throw new TetherError('HANDSHAKE_FAILED');
    this.state = 'hello_sent';
    return {
      type: 'hello',
      v: this.version,
      deviceId: this.opts.deviceId,
      ephemeral: this.ephemeral.publicRaw.toString('base64'),
      nonce: this.nonce.toString('base64'),
    };
  }

  /**
   * Verifies `server_hello`: PROTOCOL_VERSION for another version, HANDSHAKE_FAILED when malformed
   * or out of order, BACKEND_IDENTITY_INVALID unless the identity certificate is a valid
   * {@link BACKEND_IDENTITY_CN} certificate of the pinned CA, BAD_SIGNATURE for a bad transcript signature.
   */
  onServerHello(raw: unknown): { auth: ClientAuth; established: Established } {
    if (this.state !== 'hello_sent') throw new TetherError('HANDSHAKE_FAILED');
    this.state = 'failed';
    checkVersion(raw);
    const parsed = ServerHello.safeParse(raw);
    if (!parsed.success) throw new TetherError('HANDSHAKE_FAILED', undefined, { cause: parsed.error });
    const msg = parsed.data;

    if (caPin(this.opts.caCertPem) !== this.opts.caPin.toLowerCase()) throw new TetherError('BACKEND_IDENTITY_INVALID');
    const ca = parseCert(this.opts.caCertPem, 'BACKEND_IDENTITY_INVALID');
    const identity = parseCert(msg.identityCert, 'BACKEND_IDENTITY_INVALID');
    const cns = commonNames(identity);
    if (!issuedBy(identity, ca, this.now()) || cns.length !== 1 || cns[0] !== BACKEND_IDENTITY_CN) {
      throw new TetherError('BACKEND_IDENTITY_INVALID');
    }

    const serverEphemeral = b64(msg.ephemeral);
    const th = transcriptHash({
      version: this.version,
      deviceId: this.opts.deviceId,
      clientEphemeral: this.ephemeral.publicRaw,
      clientNonce: this.nonce,
      serverEphemeral,
      serverNonce: b64(msg.nonce),
    });
    if (!verifyPss(identity.publicKey, serverSignedPayload(th), msg.signature)) throw new TetherError('BAD_SIGNATURE');
    const shared = x25519Shared(this.ephemeral.privateKey, serverEphemeral);

    this.state = 'done';
    return {
      auth: { type: 'client_auth', cert: this.opts.deviceCertPem, signature: signPss(this.deviceKey, clientSignedPayload(th)) },
      established: { keys: deriveSessionKeys(shared, th, 0), salt: th },
    };
  }
}

/**
 * Backend side of the handshake: `onHello(msg)` gives the `server_hello` to send, then
 * `onClientAuth(msg)` authenticates the device. Revocation is the caller's check, on the
 * returned fingerprint or serial. Each step runs once, in order.
 */
export class ServerHandshake {
  private state: 'new' | 'hello_received' | 'done' | 'failed' = 'new';
  private pending: { deviceId: string; th: Buffer; shared: Buffer } | null = null;
  private readonly identityKey: KeyObject;
  private readonly now: () => number;

  constructor(private readonly opts: ServerHandshakeOptions) {
    this.identityKey = typeof opts.identityKeyPem === 'string' ? createPrivateKey(opts.identityKeyPem) : opts.identityKeyPem;
    this.now = opts.now ?? Date.now;
  }

  /** PROTOCOL_VERSION for another version (checked before the schema), HANDSHAKE_FAILED for anything malformed or out of order. */
  onHello(raw: unknown): { deviceId: string; serverHello: ServerHello } {
    if (this.state !== 'new') throw new TetherError('HANDSHAKE_FAILED');
    this.state = 'failed';
    checkVersion(raw);
    const parsed = Hello.safeParse(raw);
    if (!parsed.success) throw new TetherError('HANDSHAKE_FAILED', undefined, { cause: parsed.error });
    const hello = parsed.data;

    const ephemeral = generateEphemeral();
    const nonce = randomBytes(NONCE_BYTES);
    const clientEphemeral = b64(hello.ephemeral);
    const th = transcriptHash({
      version: hello.v,
      deviceId: hello.deviceId,
      clientEphemeral,
      clientNonce: b64(hello.nonce),
      serverEphemeral: ephemeral.publicRaw,
      serverNonce: nonce,
    });
    const shared = x25519Shared(ephemeral.privateKey, clientEphemeral);
    this.pending = { deviceId: hello.deviceId, th, shared };
    this.state = 'hello_received';
    return {
      deviceId: hello.deviceId,
      serverHello: {
        type: 'server_hello',
        v: PROTOCOL_VERSION,
        ephemeral: ephemeral.publicRaw.toString('base64'),
        nonce: nonce.toString('base64'),
        identityCert: this.opts.identityCertPem,
        signature: signPss(this.identityKey, serverSignedPayload(th)),
      },
    };
  }

  /**
   * HANDSHAKE_FAILED when malformed or out of order, CERT_INVALID unless the certificate is a
   * valid end-entity certificate of our CA, CERT_SUBJECT_MISMATCH when its CN is not the hello's
   * device id, BAD_SIGNATURE when the transcript signature does not verify with its key.
   */
  onClientAuth(raw: unknown): { deviceId: string; certFingerprint256: string; certSerial: string; established: Established } {
    const pending = this.pending;
    if (this.state !== 'hello_received' || pending === null) throw new TetherError('HANDSHAKE_FAILED');
    this.state = 'failed';
    this.pending = null;
    const parsed = ClientAuth.safeParse(raw);
    if (!parsed.success) throw new TetherError('HANDSHAKE_FAILED', undefined, { cause: parsed.error });

    const ca = typeof this.opts.caCertPem === 'string' ? parseCert(this.opts.caCertPem, 'INTERNAL') : this.opts.caCertPem;
    const cert = parseCert(parsed.data.cert, 'CERT_INVALID');
    if (!issuedBy(cert, ca, this.now())) throw new TetherError('CERT_INVALID');
    const cns = commonNames(cert);
    if (cns.length !== 1 || cns[0] !== pending.deviceId) throw new TetherError('CERT_SUBJECT_MISMATCH');
    if (!verifyPss(cert.publicKey, clientSignedPayload(pending.th), parsed.data.signature)) {
      throw new TetherError('BAD_SIGNATURE');
    }

    this.state = 'done';
    return {
      deviceId: pending.deviceId,
      certFingerprint256: cert.fingerprint256,
      certSerial: cert.serialNumber.toLowerCase(),
      established: { keys: deriveSessionKeys(pending.shared, pending.th, 0), salt: pending.th },
    };
  }
}
