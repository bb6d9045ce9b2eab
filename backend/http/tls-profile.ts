import type { SecureContextOptions } from 'node:tls';

/**
 * Mozilla's "intermediate" server profile (ssl-config.mozilla.org, guidelines 5.7): TLS 1.3, and
 * on TLS 1.2 only ECDHE key exchange (forward secrecy) with AES-GCM or ChaCha20-Poly1305. Its
 * DHE suites are left out as well: ECDHE-only is what every client Tether supports speaks, and it
 * spares the DH parameters. The TLS 1.3 suites are named so that setting `ciphers` keeps them.
 */
export const TLS_PROFILE = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  ecdhCurve: 'X25519:prime256v1:secp384r1',
  // The profile leaves the choice to the client, which knows whether it has AES in hardware.
  honorCipherOrder: false,
} as const satisfies SecureContextOptions;

/** HSTS for two years, as the profile says; without includeSubDomains, since a self-hosted backend's name may share a domain with hosts it does not speak for. */
export const HSTS_MAX_AGE_S = 63_072_000;
