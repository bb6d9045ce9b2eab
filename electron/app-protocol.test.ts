import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CONSOLE_CSP_META } from '../protocol/index.js';
import { createAppProtocolHandler, readBundleFile, resolveBundlePath, withDesktopCspMeta } from './app-protocol.js';
import { desktopCsp } from './csp.js';

const BUNDLE = '/opt/tether/renderer/dist';

describe('resolveBundlePath', () => {
  it.each([
    ['app://tether/', `${BUNDLE}/index.html`],
    ['app://tether/index.html', `${BUNDLE}/index.html`],
    ['app://tether/assets/main-abc.js?v=1#x', `${BUNDLE}/assets/main-abc.js`],
    ['app://tether/assets/a%20b.css', `${BUNDLE}/assets/a b.css`],
    // The URL parser folds these before we see them, so they stay inside.
    ['app://tether/assets/../index.html', `${BUNDLE}/index.html`],
    ['app://tether/%2e%2e/%2E%2E/etc/passwd', `${BUNDLE}/etc/passwd`],
    ['app://tether//etc/passwd', `${BUNDLE}/etc/passwd`],
  ])('maps %s inside the bundle', (url, path) => {
    expect(resolveBundlePath(url, BUNDLE)).toEqual({ ok: true, path });
  });

  it.each([
    ['an encoded slash hiding ..', 'app://tether/..%2f..%2fetc%2fpasswd'],
    ['an encoded backslash', 'app://tether/..%5c..%5cwindows%5cwin.ini'],
    ['a literal backslash', 'app://tether/assets\\..\\..\\secret'],
    ['a NUL byte', 'app://tether/index.html%00.png'],
    ['a drive letter', 'app://tether/C:%5cWindows'],
    ['bad percent-encoding', 'app://tether/%E0%A4%A'],
    ['a double-encoded dot-dot that decodes to ..', 'app://tether/%252e%252e/x'],
  ])('refuses %s', (_label, url) => {
    const result = resolveBundlePath(url, BUNDLE);
    if (result.ok) expect(result.path.startsWith(`${BUNDLE}/`)).toBe(true);
    else expect(result.status).toBe(400);
  });

  it('refuses segments that decode to a path separator or ..', () => {
    expect(resolveBundlePath('app://tether/..%2f..%2fetc%2fpasswd', BUNDLE)).toEqual({ ok: false, status: 400 });
    expect(resolveBundlePath('app://tether/a%2fb', BUNDLE)).toEqual({ ok: false, status: 400 });
  });

  it('answers nothing for other hosts, schemes or garbage', () => {
    expect(resolveBundlePath('app://evil/index.html', BUNDLE)).toEqual({ ok: false, status: 404 });
    expect(resolveBundlePath('file:///etc/passwd', BUNDLE)).toEqual({ ok: false, status: 404 });
    expect(resolveBundlePath('not a url', BUNDLE)).toEqual({ ok: false, status: 400 });
  });
});

describe('withDesktopCspMeta', () => {
  it('replaces the web policy meta tag, not adds a second one', () => {
    const html = `<html><head><meta http-equiv="Content-Security-Policy" content="${CONSOLE_CSP_META}"><title>x</title></head></html>`;
    const out = withDesktopCspMeta(html, "default-src 'self'; connect-src 'self' wss://b.example");
    expect(out.match(/Content-Security-Policy/g)).toHaveLength(1);
    expect(out).toContain("connect-src 'self' wss://b.example");
  });

  it("replaces vite's entity-encoded tag too", () => {
    const html = `<head><meta http-equiv="Content-Security-Policy" content="${CONSOLE_CSP_META.replace(/'/g, '&#39;')}"></head>`;
    const out = withDesktopCspMeta(html, "connect-src 'self' wss://b.example");
    expect(out).toBe(`<head><meta http-equiv="Content-Security-Policy" content="connect-src 'self' wss://b.example"></head>`);
  });

  it('adds one when the page has none', () => {
    expect(withDesktopCspMeta('<html><head></head></html>', "default-src 'self'")).toContain(`<head><meta http-equiv="Content-Security-Policy" content="default-src 'self'">`);
  });
});

describe('the app:// handler on a real directory', () => {
  let root: string;
  let bundle: string;
  const csp = desktopCsp({ httpOrigin: 'https://fleet.example:8443', wsOrigin: 'wss://fleet.example:8443' });
  const proxy = vi.fn(async () => new Response('{"ok":true}', { status: 200, headers: { 'content-type': 'application/json', 'set-cookie': 'x=1' } }));
  let handle: (request: Request) => Promise<Response>;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'tether-app-protocol-'));
    bundle = join(root, 'dist');
    mkdirSync(join(bundle, 'assets'), { recursive: true });
    writeFileSync(join(bundle, 'index.html'), `<html><head><meta http-equiv="Content-Security-Policy" content="${CONSOLE_CSP_META}"></head></html>`);
    writeFileSync(join(bundle, 'assets', 'main.js'), 'console.log(1)');
    writeFileSync(join(root, 'secret.txt'), 'secret');
    symlinkSync(join(root, 'secret.txt'), join(bundle, 'assets', 'leak.js'));
    symlinkSync(root, join(bundle, 'up'));
    handle = createAppProtocolHandler({ bundleDir: bundle, csp: () => csp, proxy });
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('serves bundle files with the CSP and the right type', async () => {
    const response = await handle(new Request('app://tether/assets/main.js'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toBe(csp.header);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.text()).toBe('console.log(1)');
  });

  it('serves index.html with the desktop policy in its meta tag', async () => {
    const response = await handle(new Request('app://tether/'));
    const html = await response.text();
    expect(html).toContain("connect-src 'self' https://fleet.example:8443 wss://fleet.example:8443");
    expect(html).not.toContain(CONSOLE_CSP_META);
  });

  it('refuses symbolic links that lead outside the bundle, file or directory', async () => {
    expect((await handle(new Request('app://tether/assets/leak.js'))).status).toBe(404);
    expect((await handle(new Request('app://tether/up/secret.txt'))).status).toBe(404);
    expect(await readBundleFile(join(bundle, 'up', 'secret.txt'), bundle)).toBeNull();
  });

  it('answers 400/404 with the CSP for traversal and missing files', async () => {
    const traversal = await handle(new Request('app://tether/..%2fsecret.txt'));
    expect(traversal.status).toBe(400);
    expect(traversal.headers.get('content-security-policy')).toBe(csp.header);
    expect((await handle(new Request('app://tether/nope.js'))).status).toBe(404);
    expect((await handle(new Request('app://tether/assets'))).status).toBe(404);
  });

  it('hands /api/ to the proxy and puts the CSP on its answer too', async () => {
    const response = await handle(new Request('app://tether/api/v1/devices'));
    expect(proxy).toHaveBeenCalledOnce();
    expect(response.headers.get('content-security-policy')).toBe(csp.header);
    expect(await response.json()).toEqual({ ok: true });
  });

  it('refuses writes to bundle files', async () => {
    expect((await handle(new Request('app://tether/index.html', { method: 'POST', body: 'x' }))).status).toBe(405);
  });
});
