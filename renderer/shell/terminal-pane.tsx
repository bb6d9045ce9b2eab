import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { useConsoleHost } from '../host/host-context.js';
import { mirrorInlineStyles } from './csp-style-mirror.js';
import { rememberTerminalSize, takeEarlyTerminal, type TerminalSinks } from './early-terminal.js';
import { TerminalConnection, type TerminalStatus } from './terminal-connection.js';
import { onThemeColorsChange, readThemeColors, terminalTheme } from '../theme/theme-colors.js';

/**
 * One terminal: xterm written straight from the socket (never through React state), acks from
 * xterm's write callback, fit to its box, search, and Ctrl+Shift+C / Ctrl+Shift+V for copy/paste.
 */
export function TerminalPane({ deviceId, active }: { deviceId: string; active: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<{ status: TerminalStatus; detail?: string }>({ status: 'connecting' });
  const [query, setQuery] = useState('');
  const search = useRef<SearchAddon | null>(null);
  const fit = useRef<FitAddon | null>(null);
  // In the desktop app the page is on app://, so the socket goes to the backend's origin instead.
  const host = useConsoleHost();

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const stopMirror = mirrorInlineStyles(el);
    const term = new Terminal({ cursorBlink: true, fontFamily: 'ui-monospace, Menlo, Consolas, monospace', fontSize: 13, scrollback: 5000, theme: terminalTheme(readThemeColors()) });
    const stopTheme = onThemeColorsChange((colors) => (term.options.theme = terminalTheme(colors)));
    const fitAddon = new FitAddon();
    const searchAddon = new SearchAddon();
    term.loadAddon(fitAddon);
    term.loadAddon(searchAddon);
    term.open(el);
    fitAddon.fit();
    fit.current = fitAddon;
    search.current = searchAddon;
    rememberTerminalSize(term.cols, term.rows);
    const sinks: TerminalSinks = {
      onOutput: (data) => term.write(data, () => conn.written(data.length)),
      onStatus: (s, detail) => setStatus({ status: s, detail }),
      // Drawn in the terminal, dimmed, but not part of the session's output (not acked, not recorded).
      onNotice: (text) => term.write(`\r\n\x1b[2m[tether: ${text}]\x1b[0m\r\n`),
    };
    // The view's first terminal takes the session its route started while this chunk loaded.
    const early = takeEarlyTerminal(deviceId);
    const conn = early?.conn ?? new TerminalConnection({
      deviceId, cols: term.cols, rows: term.rows,
      url: (query) => host.socketUrl('/api/v1/shell', query),
      createSocket: (url) => new WebSocket(url),
      ...sinks,
    });
    if (early) {
      early.attach(sinks);
      conn.resize(term.cols, term.rows);
    }
    const typed = term.onData((text) => conn.input(text));
    const resized = term.onResize(({ cols, rows }) => {
      rememberTerminalSize(cols, rows);
      conn.resize(cols, rows);
    });
    term.attachCustomKeyEventHandler((ev) => {
      if (ev.type !== 'keydown' || !ev.ctrlKey || !ev.shiftKey) return true;
      if (ev.code === 'KeyC') {
        void navigator.clipboard?.writeText(term.getSelection());
        return false;
      }
      if (ev.code === 'KeyV') {
        void navigator.clipboard?.readText().then((text) => term.paste(text));
        return false;
      }
      return true;
    });
    const observer = new ResizeObserver(() => fitAddon.fit());
    observer.observe(el);
    term.focus();
    return () => {
      stopTheme();
      observer.disconnect();
      typed.dispose();
      resized.dispose();
      conn.close();
      term.dispose();
      stopMirror();
    };
  }, [deviceId, host]);

  useEffect(() => {
    if (active) fit.current?.fit();
  }, [active]);

  return (
    <div className="terminal-pane" hidden={!active} data-testid="terminal-pane" data-status={status.status}>
      <div className="terminal-toolbar">
        <span className={`terminal-status terminal-${status.status}`} data-testid="terminal-status">
          {status.status}
          {status.detail ? ` · ${status.detail}` : ''}
        </span>
        <input
          type="search"
          placeholder="Search output"
          aria-label="Search terminal output"
          data-testid="terminal-search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') search.current?.[e.shiftKey ? 'findPrevious' : 'findNext'](query);
          }}
        />
      </div>
      <div className="terminal-box" ref={box} data-testid="terminal" />
    </div>
  );
}
