import { randomBytes } from 'node:crypto';

/**
 * A random positive 16-byte certificate serial as lower-case hex (uppercase it to compare
 * with `X509Certificate.serialNumber`).
 *
 * The first byte lies in 0x01..0x7f: below 0x80 so the DER INTEGER stays positive, and
 * non-zero so its encoding stays minimal (a leading 0x00 before a byte < 0x80 is invalid DER).
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) % 0x7f) + 1;
  return bytes.toString('hex');
}
