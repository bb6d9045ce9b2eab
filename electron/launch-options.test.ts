import { describe, expect, it } from 'vitest';
import { launchProfile, readLaunchOptions } from './launch-options.js';

const PIN = `sha256:${'ab'.repeat(32)}`;
const ELECTRON = ['/opt/electron', '.'];

describe('readLaunchOptions', () => {
  it('reads the URL and pin from arguments, in both spellings, among Chromium switches', () => {
    expect(readLaunchOptions([...ELECTRON, '--no-sandbox-is-not-ours', '--console-url', 'https://fleet.example:8443', `--ca-pin=${PIN}`], {})).toEqual({
      ok: true,
      options: { consoleUrl: 'https://fleet.example:8443/', caPin: PIN },
    });
  });

  it('falls back to the environment; arguments win', () => {
    const env = { TETHER_CONSOLE_URL: 'https://env.example/', TETHER_CA_PIN: PIN };
    expect(readLaunchOptions(ELECTRON, env)).toEqual({ ok: true, options: { consoleUrl: 'https://env.example/', caPin: PIN } });
    const fromArgs = readLaunchOptions([...ELECTRON, '--console-url=http://localhost:8080'], env);
    expect(fromArgs.ok && fromArgs.options.consoleUrl).toBe('http://localhost:8080/');
  });

  it('has no pin unless given one', () => {
    const result = readLaunchOptions([...ELECTRON, '--console-url=https://a.example'], {});
    expect(result.ok && result.options.caPin).toBeNull();
  });

  it.each([
    [[], {}, /No console URL/],
    [['--console-url'], {}, /No console URL/],
    [['--console-url=nope'], {}, /Not a URL/],
    [['--console-url=file:///etc/passwd'], {}, /https:\/\/ or http:\/\//],
    [['--console-url=https://a.example', '--ca-pin=sha1:00'], {}, /sha256/],
  ])('refuses %j', (args, env, message) => {
    const result = readLaunchOptions([...ELECTRON, ...args], env);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('launchProfile', () => {
  it('is none without a URL: the saved profiles decide', () => {
    expect(launchProfile(ELECTRON, {})).toEqual({ ok: true, profile: null });
  });

  it('names the backend by its host, as an origin', () => {
    expect(launchProfile([...ELECTRON, '--console-url=https://127.0.0.1:8443/', `--ca-pin=${PIN}`], {})).toEqual({
      ok: true,
      profile: { name: 'Backend at 127.0.0.1:8443', url: 'https://127.0.0.1:8443', caPin: PIN },
    });
  });

  it('refuses a URL without a pin, and a bad URL', () => {
    const noPin = launchProfile([...ELECTRON, '--console-url=https://127.0.0.1:8443/'], {});
    expect(noPin.ok === false && noPin.message).toMatch(/--ca-pin/);
    expect(launchProfile([...ELECTRON, '--console-url=nope'], {}).ok).toBe(false);
  });
});
