/**
 * Where the console window may go. The window shows the console and nothing else: navigation
 * stays on the console's origin, new windows are never created, and http(s) links that lead
 * elsewhere open in the user's browser. Pure functions plus one installer, so tests run
 * without Electron.
 */

/**
 * `scheme://host:port` of a URL, or null when it has none. `URL.origin` is the string "null"
 * for non-special schemes (a future `app://console` bundle), so it is built by hand.
 */
export function originOf(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.host === '') return null;
  return `${parsed.protocol}//${parsed.host}`;
}

/** True when `target` is on the console's own origin. */
export function isConsoleUrl(target: string, consoleUrl: string): boolean {
  const origin = originOf(target);
  return origin !== null && origin === originOf(consoleUrl);
}

/** True for links that may be handed to the system browser: http(s) only, never file:, javascript: or custom schemes. */
export function isExternalWebLink(target: string): boolean {
  try {
    const { protocol } = new URL(target);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

export type NavigationDecision = { action: 'allow' } | { action: 'deny'; openExternally: boolean };

/** For `will-navigate` and `will-redirect`. */
export function decideNavigation(target: string, consoleUrl: string): NavigationDecision {
  if (isConsoleUrl(target, consoleUrl)) return { action: 'allow' };
  return { action: 'deny', openExternally: isExternalWebLink(target) };
}

/** For `window.open` and `target=_blank`: always denied; web links go to the system browser. */
export function decideWindowOpen(target: string): { action: 'deny'; openExternally: boolean } {
  return { action: 'deny', openExternally: isExternalWebLink(target) };
}

/** The events of Electron's `WebContents` the guards use; `WebContents` satisfies it. */
export interface GuardedContents {
  on(event: 'will-navigate', listener: (event: { readonly url: string; preventDefault(): void }) => void): unknown;
  on(event: 'will-redirect', listener: (event: { readonly url: string; preventDefault(): void }) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: { preventDefault(): void }) => void): unknown;
  setWindowOpenHandler(handler: (details: { readonly url: string }) => { action: 'deny' }): void;
}

/** Installs the guards on one web contents (main.ts calls this for every one created). */
export function installNavigationGuards(contents: GuardedContents, consoleUrl: string, openExternal: (url: string) => void): void {
  const guard = (event: { readonly url: string; preventDefault(): void }): void => {
    const decision = decideNavigation(event.url, consoleUrl);
    if (decision.action === 'allow') return;
    event.preventDefault();
    if (decision.openExternally) openExternal(event.url);
  };
  contents.on('will-navigate', guard);
  contents.on('will-redirect', guard);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (decideWindowOpen(url).openExternally) openExternal(url);
    return { action: 'deny' };
  });
}
