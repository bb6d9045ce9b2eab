import { describe, expect, it } from 'vitest';
import { CONSOLE_CSP, withDefaultCsp } from './csp.js';

describe('withDefaultCsp', () => {
  it('adds the console policy when the response has none', () => {
    expect(withDefaultCsp({ 'Content-Type': ['text/html'] })).toEqual({
      'Content-Type': ['text/html'],
      'Content-Security-Policy': [CONSOLE_CSP],
    });
    expect(withDefaultCsp(undefined)).toEqual({ 'Content-Security-Policy': [CONSOLE_CSP] });
  });

  it('keeps a policy the server sent, whatever the header case', () => {
    const headers = { 'content-security-policy': ["default-src 'none'"] };
    expect(withDefaultCsp(headers)).toEqual(headers);
  });

  it('does not modify its argument', () => {
    const headers = { 'Content-Type': ['text/html'] };
    withDefaultCsp(headers);
    expect(headers).toEqual({ 'Content-Type': ['text/html'] });
  });

  it('forbids inline script, eval and foreign connections', () => {
    expect(CONSOLE_CSP).toContain("default-src 'self'");
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("connect-src 'self'");
    expect(CONSOLE_CSP).not.toMatch(/unsafe-(inline|eval)/);
  });
});
