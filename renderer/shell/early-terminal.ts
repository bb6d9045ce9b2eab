import { use, useLayoutEffect } from 'react';
import { ConsoleHostContext } from '../host/host-context.js';
import { browserHost, type ConsoleHost } from '../host/host.js';
import { TerminalConnection, type TerminalStatus } from './terminal-connection.js';

/** Where a terminal's output and status go once its xterm exists. */
export interface TerminalSinks {
  onOutput(data: Uint8Array): void;
  onStatus(status: TerminalStatus, detail?: string): void;
  onNotice(text: string): void;
}

/** Holds a session's output, notices and last status until its pane attaches. */
class HeldOutput implements TerminalSinks {
  /** Output bytes and notices (strings), in the order they came. */
  private held: Array<Uint8Array | string> = [];
  private status: [TerminalStatus, string | undefined] | null = null;
  private target: TerminalSinks | null = null;

  onOutput(data: Uint8Array): void {
    if (this.target) this.target.onOutput(data);
    else this.held.push(data);
  }

  onNotice(text: string): void {
    if (this.target) this.target.onNotice(text);
    else this.held.push(text);
  }

  onStatus(status: TerminalStatus, detail?: string): void {
    this.status = [status, detail];
    this.target?.onStatus(status, detail);
  }

  attach(target: TerminalSinks): void {
    this.target = target;
    if (this.status) target.onStatus(...this.status);
    for (const item of this.held.splice(0)) {
      if (typeof item === 'string') target.onNotice(item);
      else target.onOutput(item);
    }
  }
}

export interface EarlyTerminal {
  conn: TerminalConnection;
  /** Replays what arrived so far, then passes everything through. */
  attach(sinks: TerminalSinks): void;
}

interface Early extends EarlyTerminal {
  deviceId: string;
}

let early: Early | null = null;
/** The last size a terminal was fitted to: the best guess for the next one's PTY. */
let lastSize: { cols: number; rows: number } | null = null;

export function rememberTerminalSize(cols: number, rows: number): void {
  lastSize = { cols, rows };
}

/** Before any terminal was fitted: the viewport in cells of the 13 px font, corrected by a resize once fitted. */
function guessSize(): { cols: number; rows: number } {
  if (lastSize) return lastSize;
  const clamp = (n: number, min: number, max: number) => Math.max(min, Math.min(max, Math.floor(n)));
  return { cols: clamp((window.innerWidth - 48) / 7.8, 20, 400), rows: clamp((window.innerHeight - 260) / 17, 5, 150) };
}

/**
 * Opens a device's first terminal session as soon as its shell route is entered, not once the
 * terminal view's chunk (xterm) has loaded and fitted: the PTY spawn and the shell's start-up run
 * while the console loads, instead of after it. Output is held until a pane adopts the session.
 */
export function startEarlyTerminal(deviceId: string, host: ConsoleHost): void {
  if (early?.deviceId === deviceId) return;
  discardEarlyTerminal();
  const { cols, rows } = guessSize();
  const output = new HeldOutput();
  const conn = new TerminalConnection({
    deviceId, cols, rows,
    url: (query) => host.socketUrl('/api/v1/shell', query),
    createSocket: (url) => new WebSocket(url),
    onOutput: (data) => output.onOutput(data),
    onStatus: (status, detail) => output.onStatus(status, detail),
    onNotice: (text) => output.onNotice(text),
  });
  early = { deviceId, conn, attach: (sinks) => output.attach(sinks) };
}

/** The session started for this device, now owned by the caller (which closes it), or null. */
export function takeEarlyTerminal(deviceId: string): EarlyTerminal | null {
  const taken = early?.deviceId === deviceId ? early : null;
  if (taken) early = null;
  return taken;
}

/** The route was left before a pane took the session: it ends, so no shell runs unseen. */
export function discardEarlyTerminal(deviceId?: string): void {
  if (!early || (deviceId !== undefined && early.deviceId !== deviceId)) return;
  early.conn.close();
  early = null;
}

/**
 * Starts the session while `deviceId`'s shell route is shown (null: none), and ends it if the
 * route is left before a pane took it. A layout effect runs before the panes' effects of the same
 * commit, so the first pane finds the session even when the view's chunk was already loaded.
 */
export function useEarlyTerminal(deviceId: string | null): void {
  // The context, not useConsoleHost: its browser fallback reads `window`, which the effect alone may.
  const host = use(ConsoleHostContext);
  useLayoutEffect(() => {
    if (deviceId === null) return;
    startEarlyTerminal(deviceId, host ?? browserHost(window.location));
    return () => discardEarlyTerminal(deviceId);
  }, [deviceId, host]);
}
