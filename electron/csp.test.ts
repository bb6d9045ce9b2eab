import { describe, expect, it } from 'vitest';
import { CONSOLE_CSP, desktopCsp, webSocketOrigin, withDefaultCsp } from './csp.js';

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

describe('desktopCsp', () => {
  it('allows connections to exactly the active backend, https and wss', () => {
    const { header, meta } = desktopCsp({ httpOrigin: 'https://fleet.example:8443', wsOrigin: 'wss://fleet.example:8443' });
    for (const policy of [header, meta]) {
      expect(policy).toContain("connect-src 'self' https://fleet.example:8443 wss://fleet.example:8443;");
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("object-src 'none'");
      expect(policy).not.toMatch(/unsafe-(inline|eval)|\*/);
    }
    expect(header).toContain("frame-ancestors 'none'");
  });

  it("is 'self' only with no backend", () => {
    expect(desktopCsp(null).header).toBe(CONSOLE_CSP);
  });

  it('derives the WebSocket origin', () => {
    expect(webSocketOrigin('https://fleet.example:8443')).toBe('wss://fleet.example:8443');
    expect(webSocketOrigin('https://fleet.example')).toBe('wss://fleet.example');
  });
});
