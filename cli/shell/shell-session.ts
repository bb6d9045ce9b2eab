import WebSocket from 'ws';
import { ERRORS, isErrorCode, missingCase, SHELL_ACK_BATCH_BYTES, SHELL_ACK_DELAY_MS, ShellServerMessage, shellNoticeText, TermSize, type ShellClientMessage } from '../../protocol/index.js';
import { CliError, refusalOf } from '../cli-error.js';
import type { Credentials } from '../credentials.js';
import { ESCAPE_HELP, EscapeScanner } from './escape-scanner.js';

export interface ShellTerminal {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  errors: NodeJS.WriteStream;
}

/** How a `tether shell` ended: the remote shell's exit, the operator leaving with `~.`, or a coded error. */
export type ShellEnd = { type: 'exited'; exitCode: number | null } | { type: 'left' } | { type: 'error'; error: CliError };

/** The backend keeps a dropped session for 60 s; reattaching stops a little before. */
const REATTACH_FOR_MS = 55_000;
const OPEN = WebSocket.OPEN;

/** The size sent to the backend, clamped to what the API takes (a terminal reports 0×0 when it cannot tell). */
export function termSize(output: NodeJS.WriteStream): { cols: number; rows: number } {
  const clamp = (n: number | undefined, fallback: number, min: number, max: number): number => Math.min(max, Math.max(min, n && Number.isFinite(n) ? Math.floor(n) : fallback));
  const { cols, rows } = TermSize.shape;
  return { cols: clamp(output.columns, 80, cols.minValue ?? 2, cols.maxValue ?? 1000), rows: clamp(output.rows, 24, rows.minValue ?? 1, rows.maxValue ?? 500) };
}

/**
 * One interactive shell over `/api/v1/shell`, as the console's terminal does it
 * (renderer/shell/terminal-connection.ts): raw bytes in binary frames both ways, output
 * acknowledged once the local terminal has taken it (batched: at once from
 * SHELL_ACK_BATCH_BYTES, else after SHELL_ACK_DELAY_MS), resize on SIGWINCH, and a reattach to
 * the same session after a dropped connection, skipping what the backend resends and was shown.
 */
export function runShell(credentials: Credentials, deviceId: string, term: ShellTerminal): Promise<ShellEnd> {
  return new Promise<ShellEnd>((resolve) => {
    const scanner = new EscapeScanner();
    const wasRaw = term.input.isTTY ? term.input.isRaw : false;
    let ws: WebSocket | null = null;
    let sessionId: string | null = null;
    let ended: ShellEnd | null = null;
    // Positions in the session's output, in bytes: received, taken by the terminal, acknowledged.
    let received = 0;
    let written = 0;
    let acked = 0;
    /** Resent bytes after a reattach that were already shown. */
    let skip = 0;
    let ackTimer: NodeJS.Timeout | null = null;
    let droppedAt = 0;
    let attempt = 0;

    const control = (msg: ShellClientMessage): void => {
      if (ws?.readyState === OPEN) ws.send(JSON.stringify(msg));
    };
    const flushAck = (): void => {
      if (ackTimer) clearTimeout(ackTimer);
      ackTimer = null;
      const bytes = written - acked;
      if (bytes <= 0 || ws?.readyState !== OPEN) return;
      acked = written;
      control({ type: 'ack', bytes });
    };
    const onWritten = (bytes: number): void => {
      written += bytes;
      if (written - acked >= SHELL_ACK_BATCH_BYTES) flushAck();
      else ackTimer ??= setTimeout(flushAck, SHELL_ACK_DELAY_MS);
    };
    const onKeys = (data: Buffer): void => {
      for (const action of scanner.scan(data)) {
        switch (action.type) {
          case 'send':
            // Keys typed while reattaching have nowhere to go, as in the console.
            if (ws?.readyState === OPEN) ws.send(action.data, { binary: true });
            break;
          case 'help':
            term.errors.write(ESCAPE_HELP);
            break;
          case 'leave':
            finish({ type: 'left' });
            return;
          default:
            missingCase(action);
        }
      }
    };
    const onResize = (): void => control({ type: 'resize', ...termSize(term.output) });
    const finish = (end: ShellEnd): void => {
      if (ended) return;
      ended = end;
      if (ackTimer) clearTimeout(ackTimer);
      term.input.off('data', onKeys);
      term.output.off('resize', onResize);
      if (term.input.isTTY) term.input.setRawMode(wasRaw);
      term.input.pause();
      if (ws?.readyState === OPEN || ws?.readyState === WebSocket.CONNECTING) ws.close(1000, 'closed');
      resolve(end);
    };
    const onOpened = (msg: Extract<ShellServerMessage, { type: 'opened' }>): void => {
      const first = sessionId === null;
      sessionId = msg.sessionId;
      attempt = 0;
      // The backend resends from `offset` what it holds unacknowledged: what was shown is skipped, and
      // acknowledged again (an ack may have been lost in the drop).
      const offset = msg.offset ?? written;
      skip = Math.max(0, received - offset);
      acked = Math.min(offset, written);
      if (written > acked) flushAck();
      if (first) {
        if (term.input.isTTY) term.input.setRawMode(true);
        term.input.on('data', onKeys);
        term.input.resume();
        term.output.on('resize', onResize);
      } else {
        term.errors.write('\r\n[tether: reconnected]\r\n');
        onResize();
      }
    };

    const connect = (): void => {
      const url = new URL('/api/v1/shell', credentials.url);
      url.protocol = 'wss:';
      if (sessionId !== null) {
        url.searchParams.set('sessionId', sessionId);
        // What this terminal has, so another cluster node can take the session over from there.
        url.searchParams.set('offset', String(received));
      } else {
        const size = termSize(term.output);
        url.searchParams.set('deviceId', deviceId);
        url.searchParams.set('cols', String(size.cols));
        url.searchParams.set('rows', String(size.rows));
      }
      const socket = new WebSocket(url, { ca: credentials.caCertPem, headers: { authorization: `Bearer ${credentials.token}` }, perMessageDeflate: false, handshakeTimeout: 30_000 });
      ws = socket;
      let refused: CliError | null = null;
      socket.on('unexpected-response', (_req, res) => {
        void refusalOf(res).then((error) => {
          refused = error;
          // A refused reattach (the session ended meanwhile) is final; so is a refused first open.
          finish({ type: 'error', error });
        });
      });
      socket.on('error', (err) => {
        if (sessionId === null && !refused) finish({ type: 'error', error: CliError.of('BACKEND_UNREACHABLE', `${url.origin}: ${err.message}`) });
      });
      socket.on('message', (data: Buffer, isBinary) => {
        if (ws !== socket || ended) return;
        if (isBinary) {
          const skipped = Math.min(skip, data.length);
          skip -= skipped;
          if (skipped === data.length) return;
          const fresh = data.subarray(skipped);
          received += fresh.length;
          // The backend's flow control waits for these acks: only what the terminal took counts.
          term.output.write(fresh, () => onWritten(fresh.length));
          return;
        }
        let json: unknown;
        try {
          json = JSON.parse(data.toString('utf8'));
        } catch {
          json = undefined;
        }
        const parsed = ShellServerMessage.safeParse(json);
        if (!parsed.success) return;
        const msg = parsed.data;
        if (msg.type === 'opened') onOpened(msg);
        else if (msg.type === 'notice') term.errors.write(`\r\n[tether: ${shellNoticeText(msg)}]\r\n`);
        else if (msg.code !== null) finish({ type: 'error', error: new CliError(msg.code, isErrorCode(msg.code) ? ERRORS[msg.code].message : 'The shell ended') });
        else finish({ type: 'exited', exitCode: msg.exitCode });
      });
      socket.on('close', (code, reason) => {
        if (ws !== socket || ended) return;
        ws = null;
        // A refusal or a deliberate end is final; a drop of a live session is worth a reattach.
        const final = sessionId === null || code === 1000 || (code >= 4400 && code < 4500 && code !== ERRORS.DEVICE_OFFLINE.close);
        if (final) {
          const text = reason.toString('utf8');
          finish(code === 1000 ? { type: 'exited', exitCode: null } : { type: 'error', error: new CliError(text !== '' ? text.slice(0, 64) : 'BACKEND_UNREACHABLE', `The connection closed (${code})`) });
          return;
        }
        const now = Date.now();
        if (attempt === 0) {
          droppedAt = now;
          term.errors.write('\r\n[tether: connection lost, reconnecting…]\r\n');
        }
        if (now - droppedAt > REATTACH_FOR_MS) {
          finish({ type: 'error', error: CliError.of('BACKEND_UNREACHABLE', 'The connection was lost and could not be restored') });
          return;
        }
        setTimeout(connect, Math.min(5000, 250 * 2 ** attempt++));
      });
    };
    connect();
  });
}
