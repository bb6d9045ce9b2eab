import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

/** An RSA key pair as PEM: SPKI public key, PKCS#8 private key. */
export interface RsaKeyPairPem {
  publicKeyPem: string;
  privateKeyPem: string;
}

/** Generates an RSA key pair on libuv's thread pool, so the event loop keeps running. */
export async function generateRsaKeyPair(modulusLength: number): Promise<RsaKeyPairPem> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}
