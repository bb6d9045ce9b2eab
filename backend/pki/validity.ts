import type forge from 'node-forge';

// Tolerates clocks of devices and browsers that run a little behind the backend's.
const CLOCK_SKEW_MS = 5 * 60 * 1000;

/** How long a certificate is valid, counted from now. */
export type ValidityPeriod = { days: number } | { years: number };

/** Sets notBefore a few minutes in the past (clock skew) and notAfter `period` from now. */
export function setValidity(cert: forge.pki.Certificate, period: ValidityPeriod, now: Date = new Date()): void {
  const notAfter = new Date(now);
  if ('years' in period) {
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + period.years);
  } else {
    notAfter.setTime(notAfter.getTime() + period.days * 24 * 60 * 60 * 1000);
  }
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  cert.validity.notAfter = notAfter;
}
