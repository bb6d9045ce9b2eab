import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { TetherError } from '../../protocol/errors.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const DEVICE_KEY_BITS = 2048;
/** The backend names the device certificate itself; the CSR subject is informational. */
const DEFAULT_COMMON_NAME = 'tether-agent';
/** Upper bound of an X.520 commonName (RFC 5280 ub-common-name). */
const MAX_COMMON_NAME_LENGTH = 64;

/** The device's private key (PKCS#8 PEM, never leaves the device) and a CSR for its public key. */
export interface DeviceKeyAndCsr {
  keyPem: string;
  csrPem: string;
}

/**
 * Generates the device key pair (RSA-2048, on libuv's thread pool so the event loop keeps
 * running) and a SHA-256 CSR for it, built and signed with node-forge, which the backend's
 * forge-based CA certifies. Throws TetherError BAD_REQUEST for an empty or over-long name.
 */
export async function createDeviceKeyAndCsr(commonName: string = DEFAULT_COMMON_NAME): Promise<DeviceKeyAndCsr> {
  if (commonName.length === 0 || commonName.length > MAX_COMMON_NAME_LENGTH) {
    throw new TetherError('BAD_REQUEST', `The CSR common name must have 1 to ${MAX_COMMON_NAME_LENGTH} characters`);
  }
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: DEVICE_KEY_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  // Loaded here, the one place that needs it: a running agent never does (and ships it beside its bundle).
  const { default: forge } = await import('node-forge');
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey);
  // UTF8String: forge's default PrintableString cannot hold '_' and other characters of host names.
  const utf8Tag: number = forge.asn1.Type.UTF8;
  csr.setSubject([{ name: 'commonName', value: commonName, valueTagClass: utf8Tag }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  // LF line ends, as Node and OpenSSL write PEM (forge writes CRLF).
  return { keyPem: privateKey, csrPem: forge.pki.certificationRequestToPem(csr).replace(/\r\n/g, '\n') };
}
