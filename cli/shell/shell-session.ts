import WebSocket from 'ws';
import { ERRORS, isErrorCode, missingCase, SHELL_ACK_BATCH_BYTES, SHELL_ACK_DELAY_MS, ShellServerMessage, TermSize, type ShellClientMessage } from '../../protocol/index.js';
import { CliError } from '../cli-error.js';
import type { Credentials } from '../credentials.js';
import { ESCAPE_HELP, EscapeScanner } from './escape-scanner.js';

export interface ShellTerminal {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  errors: NodeJS.WriteStream;
}

/** How a `tether shell` ended: the remote shell's exit, the operator leaving with `~.`, or a coded error. */
export type ShellEnd = { type: 'exited'; exitCode: number | null } | { type: 'left' } | { type: 'error'; error: CliError };

/** The size sent to the backend, clamped to what the API takes (a terminal reports 0×0 when it cannot tell). */
export function termSize(output: NodeJS.WriteStream): { cols: number; rows: number } {
  const clamp = (n: number | undefined, fallback: number, min: number, max: number): number => Math.min(max, Math.max(min, n && Number.isFinite(n) ? Math.floor(n) : fallback));
  const { cols, rows } = TermSize.shape;
  return { cols: clamp(output.columns, 80, cols.minValue ?? 2, cols.maxValue ?? 1000), rows: clamp(output.rows, 24, rows.minValue ?? 1, rows.maxValue ?? 500) };
}

/**
 * One interactive shell over `/api/v1/shell`, as the console's terminal does it: raw bytes in
 * binary frames both ways, output acknowledged once written to the local terminal (batched: at
 * once from SHELL_ACK_BATCH_BYTES, else after SHELL_ACK_DELAY_MS), resize on SIGWINCH.
 */
export function runShell(credentials: Credentials, deviceId: string, term: ShellTerminal): Promise<ShellEnd> {
  const url = new URL('/api/v1/shell', credentials.url);
  url.protocol = 'wss:';
  const size = termSize(term.output);
  url.searchParams.set('deviceId', deviceId);
  url.searchParams.set('cols', String(size.cols));
  url.searchParams.set('rows', String(size.rows));
  const ws = new WebSocket(url, {
    ca: credentials.caCertPem,
    headers: { authorization: `Bearer ${credentials.token}` },
    perMessageDeflate: false,
    handshakeTimeout: 30_000,
  });

  return new Promise<ShellEnd>((resolve) => {
    const scanner = new EscapeScanner();
    let opened = false;
    let ended: ShellEnd | null = null;
    let written = 0;
    let acked = 0;
    let ackTimer: NodeJS.Timeout | null = null;
    const wasRaw = term.input.isTTY ? term.input.isRaw : false;

    const control = (msg: ShellClientMessage): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    };
    const flushAck = (): void => {
      if (ackTimer) clearTimeout(ackTimer);
      ackTimer = null;
      const bytes = written - acked;
      if (bytes <= 0 || ws.readyState !== WebSocket.OPEN) return;
      acked = written;
      control({ type: 'ack', bytes });
    };
    const onWritten = (bytes: number): void => {
      written += bytes;
      if (written - acked >= SHELL_ACK_BATCH_BYTES) flushAck();
      else ackTimer ??= setTimeout(flushAck, SHELL_ACK_DELAY_MS);
    };
    const onKeys = (data: Buffer): void => {
      if (!opened) return;
      for (const action of scanner.scan(data)) {
        switch (action.type) {
          case 'send':
            ws.send(action.data, { binary: true });
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
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'closed');
      resolve(end);
    };

    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body = (body + chunk).slice(0, 64 * 1024)));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        finish({ type: 'error', error: CliError.fromBody(res.statusCode ?? 0, json) });
      });
    });
    ws.on('error', (err) => finish({ type: 'error', error: CliError.of('BACKEND_UNREACHABLE', `${url.origin}: ${err.message}`) }));
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        // The backend's flow control waits for these acks: only what the terminal took counts.
        term.output.write(data, () => onWritten(data.length));
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
      if (msg.type === 'opened') {
        opened = true;
        if (term.input.isTTY) term.input.setRawMode(true);
        term.input.on('data', onKeys);
        term.input.resume();
        term.output.on('resize', onResize);
        return;
      }
      if (msg.code !== null) finish({ type: 'error', error: new CliError(msg.code, isErrorCode(msg.code) ? ERRORS[msg.code].message : 'The shell ended') });
      else finish({ type: 'exited', exitCode: msg.exitCode });
    });
    ws.on('close', (code, reason) => {
      if (ended) return;
      const text = reason.toString('utf8');
      finish(code === 1000 ? { type: 'exited', exitCode: null } : { type: 'error', error: new CliError(text !== '' ? text.slice(0, 64) : 'BACKEND_UNREACHABLE', `The connection closed (${code})`) });
    });
  });
}

