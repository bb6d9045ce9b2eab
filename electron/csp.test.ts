import { describe, expect, it } from 'vitest';
import { CONSOLE_CSP, desktopCsp, webSocketOrigin } from './csp.js';

describe('CONSOLE_CSP', () => {
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
