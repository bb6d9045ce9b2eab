import { CONSOLE_CSP } from '../protocol/index.js';

export { CONSOLE_CSP };

/**
 * Response headers with {@link CONSOLE_CSP} added when the server sent no policy of its own.
 * A server's policy is left alone: it knows its pages better, and two policies would both apply.
 */
export function withDefaultCsp(headers: Readonly<Record<string, string[]>> | undefined, csp: string = CONSOLE_CSP): Record<string, string[]> {
  const result: Record<string, string[]> = { ...headers };
  const present = Object.keys(result).some((name) => name.toLowerCase() === 'content-security-policy');
  if (!present) result['Content-Security-Policy'] = [csp];
  return result;
}
