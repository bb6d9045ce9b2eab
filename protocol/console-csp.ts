/**
 * The console's Content-Security-Policy, one source for the three places that apply it: the
 * backend's response header (through helmet, which takes the directives), the <meta> tag in the
 * built index.html, and the Electron shell's fallback header. Own origin only; no inline code, no
 * eval, no plugins, no framing.
 */
export const CONSOLE_CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'connect-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

const policy = (names: readonly string[]): string => names.map((name) => `${name} ${(CONSOLE_CSP_DIRECTIVES[name] ?? []).join(' ')}`).join('; ');
const ALL = Object.keys(CONSOLE_CSP_DIRECTIVES);

/** As an HTTP header. */
export const CONSOLE_CSP = policy(ALL);

/** For a <meta http-equiv> tag, where browsers ignore `frame-ancestors`. */
export const CONSOLE_CSP_META = policy(ALL.filter((name) => name !== 'frame-ancestors'));
