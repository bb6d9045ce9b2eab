/**
 * The console's Content-Security-Policy, one source for the three places that apply it: the
 * backend's response header, the <meta> tag in the built index.html, and the Electron shell's
 * fallback header. Own origin only; no inline code, no eval, no plugins, no framing.
 */
const DIRECTIVES = [
  "default-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
] as const;

/** As an HTTP header. */
export const CONSOLE_CSP = [...DIRECTIVES, "frame-ancestors 'none'"].join('; ');

/** For a <meta http-equiv> tag, where browsers ignore `frame-ancestors`. */
export const CONSOLE_CSP_META = DIRECTIVES.join('; ');
