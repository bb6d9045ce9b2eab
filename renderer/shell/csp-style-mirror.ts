/**
 * xterm's DOM renderer sizes and colours its rows through <style> elements it creates at run
 * time, which the console's strict CSP (`style-src 'self'`, no 'unsafe-inline') refuses to
 * apply. Rather than weaken the policy for every view, each such element's text is mirrored
 * into a constructed stylesheet (adoptedStyleSheets), which the policy does not govern.
 * Returns a function that stops mirroring and drops the sheets.
 */
export function mirrorInlineStyles(root: HTMLElement): () => void {
  const sheets = new Map<HTMLStyleElement, CSSStyleSheet>();
  const sync = (el: HTMLStyleElement) => {
    let sheet = sheets.get(el);
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheets.set(el, sheet);
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    }
    sheet.replaceSync(el.textContent ?? '');
  };
  const scan = () => root.querySelectorAll('style').forEach(sync);
  const observer = new MutationObserver(scan);
  observer.observe(root, { subtree: true, childList: true, characterData: true });
  scan();
  return () => {
    observer.disconnect();
    const dropped = new Set(sheets.values());
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => !dropped.has(s));
    sheets.clear();
  };
}
