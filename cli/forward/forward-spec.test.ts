import { describe, expect, it } from 'vitest';
import { CliError } from '../cli-error.js';
import { parseForwardSpec } from './forward-spec.js';

describe('parseForwardSpec', () => {
  it('binds to the loopback unless told otherwise', () => {
    expect(parseForwardSpec('8080:127.0.0.1:80')).toEqual({ bind: '127.0.0.1', localPort: 8080, host: '127.0.0.1', remotePort: 80 });
    expect(parseForwardSpec('0.0.0.0:8080:localhost:80')).toEqual({ bind: '0.0.0.0', localPort: 8080, host: 'localhost', remotePort: 80 });
  });

  it('takes IPv6 in brackets on both sides and port 0 for a free local port', () => {
    expect(parseForwardSpec('[::1]:0:[::1]:8443')).toEqual({ bind: '::1', localPort: 0, host: '[::1]', remotePort: 8443 });
  });

  it('refuses malformed specs with BAD_REQUEST', () => {
    for (const bad of ['8080', '8080:80', 'a:b:c', '8080:host:0', '70000:h:80', '8080:bad host:80', '1:2:3:4:5']) {
      expect(() => parseForwardSpec(bad), bad).toThrow(CliError);
      try {
        parseForwardSpec(bad);
      } catch (err) {
        expect((err as CliError).code).toBe('BAD_REQUEST');
      }
    }
  });
});
