import { Secret, TOTP } from 'otpauth';

const PERIOD_S = 30;
/** One step either side tolerates clock drift between the phone and the backend. */
const WINDOW = 1;

/** A fresh 160-bit TOTP secret (RFC 4226 recommends 160 bits), base32 as authenticator apps expect. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totpOf(secret: string, username = ''): TOTP {
  return new TOTP({ issuer: 'Tether', label: username, algorithm: 'SHA1', digits: 6, period: PERIOD_S, secret: Secret.fromBase32(secret) });
}

/** The `otpauth://` URL an authenticator app imports (usually as a QR code). */
export function totpUrl(secret: string, username: string): string {
  return totpOf(secret, username).toString();
}

/**
 * The time step a code belongs to, or null when it does not match within the window. Callers
 * keep the last accepted step per user and refuse steps at or below it, so a code seen once
 * (shoulder-surfed, phished, logged) cannot be used again.
 */
export function totpStep(secret: string, code: string, timestampMs: number): number | null {
  const totp = totpOf(secret);
  const delta = totp.validate({ token: code, timestamp: timestampMs, window: WINDOW });
  return delta === null ? null : totp.counter({ timestamp: timestampMs }) + delta;
}

/** The code for a time, for tests and for nothing else. */
export function totpCode(secret: string, timestampMs: number): string {
  return totpOf(secret).generate({ timestamp: timestampMs });
}
