import { describe, expect, it, vi } from 'vitest';
import {
  decideNavigation,
  decideWindowOpen,
  installNavigationGuards,
  isConsoleUrl,
  isExternalWebLink,
  originOf,
  type GuardedContents,
} from './navigation.js';

const CONSOLE = 'https://fleet.example:8443/';

describe('originOf', () => {
  it('gives scheme, host and port, including for custom schemes', () => {
    expect(originOf('https://fleet.example:8443/a?b#c')).toBe('https://fleet.example:8443');
    expect(originOf('https://fleet.example:443/')).toBe('https://fleet.example');
    expect(originOf('app://console/index.html')).toBe('app://console');
  });

  it('has none for opaque or broken URLs', () => {
    expect(originOf('about:blank')).toBeNull();
    expect(originOf('data:text/html,hi')).toBeNull();
    expect(originOf('not a url')).toBeNull();
  });
});

describe('navigation policy', () => {
  it('allows moving within the console origin only', () => {
    expect(isConsoleUrl('https://fleet.example:8443/devices/1', CONSOLE)).toBe(true);
    expect(decideNavigation('https://fleet.example:8443/#/x', CONSOLE)).toEqual({ action: 'allow' });
  });

  it.each([
    ['another port', 'https://fleet.example:9443/', true],
    ['plain http', 'http://fleet.example:8443/', true],
    ['a look-alike host', 'https://fleet.example.evil.test:8443/', true],
    ['credentials that hide the host', 'https://fleet.example:8443@evil.test/', true],
    ['another site', 'https://docs.example/', true],
    ['a file', 'file:///etc/passwd', false],
    ['javascript', 'javascript:alert(1)', false],
    ['data', 'data:text/html,<script>1</script>', false],
    ['a custom scheme', 'ms-settings:privacy', false],
  ])('denies %s, opening it externally only if it is a web link', (_label, target, external) => {
    expect(decideNavigation(target, CONSOLE)).toEqual({ action: 'deny', openExternally: external });
  });

  it('denies every new window, sending web links to the system browser', () => {
    expect(decideWindowOpen('https://docs.example/')).toEqual({ action: 'deny', openExternally: true });
    expect(decideWindowOpen('https://fleet.example:8443/x')).toEqual({ action: 'deny', openExternally: true });
    expect(decideWindowOpen('file:///tmp/x')).toEqual({ action: 'deny', openExternally: false });
    expect(isExternalWebLink('HTTPS://DOCS.EXAMPLE/')).toBe(true);
  });
});

/** Stands in for Electron's WebContents: records the handlers so the test can fire them. */
function fakeContents() {
  const listeners = new Map<string, (event: { readonly url: string; preventDefault(): void }) => void>();
  let openHandler: ((details: { readonly url: string }) => { action: 'deny' }) | undefined;
  const contents: GuardedContents = {
    on(event: string, listener: (event: { readonly url: string; preventDefault(): void }) => void) {
      listeners.set(event, listener);
      return contents;
    },
    setWindowOpenHandler(handler) {
      openHandler = handler;
    },
  };
  const fire = (name: string, url: string) => {
    const preventDefault = vi.fn();
    listeners.get(name)?.({ url, preventDefault });
    return preventDefault;
  };
  const open = (url: string) => openHandler?.({ url });
  return { contents, fire, open };
}

describe('installNavigationGuards', () => {
  it('lets same-origin navigation through and blocks the rest', () => {
    const openExternal = vi.fn();
    const { contents, fire } = fakeContents();
    installNavigationGuards(contents, CONSOLE, openExternal);
    expect(fire('will-navigate', 'https://fleet.example:8443/login')).not.toHaveBeenCalled();
    expect(fire('will-navigate', 'https://docs.example/')).toHaveBeenCalledOnce();
    expect(fire('will-redirect', 'https://evil.test/')).toHaveBeenCalledOnce();
    expect(fire('will-navigate', 'file:///etc/passwd')).toHaveBeenCalledOnce();
    expect(openExternal.mock.calls).toEqual([['https://docs.example/'], ['https://evil.test/']]);
  });

  it('denies window.open and webviews', () => {
    const openExternal = vi.fn();
    const { contents, fire, open } = fakeContents();
    installNavigationGuards(contents, CONSOLE, openExternal);
    expect(open('https://docs.example/a')).toEqual({ action: 'deny' });
    expect(open('javascript:alert(1)')).toEqual({ action: 'deny' });
    expect(openExternal.mock.calls).toEqual([['https://docs.example/a']]);
    expect(fire('will-attach-webview', '')).toHaveBeenCalledOnce();
  });
});
