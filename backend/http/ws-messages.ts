import type { RawData, WebSocket } from 'ws';
import type { z } from 'zod';
import { ERRORS, type ErrorCode } from '../../protocol/index.js';

/** Closes a socket with a stable code: the WebSocket close code from ERRORS and the code string as reason. */
export function closeWith(ws: WebSocket, code: ErrorCode): void {
  if (ws.readyState === ws.CLOSED || ws.readyState === ws.CLOSING) return;
  ws.close(ERRORS[code].close, code);
}

/** Sends one JSON text message if the socket is still open. */
export function sendJson(ws: WebSocket, msg: unknown): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
}

/** A WebSocket message's bytes as one Buffer, whichever form ws delivered them in. */
export function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** A JSON text message parsed with `schema`, or null when it is not JSON or not of that shape. */
export function parseJsonMessage<T>(schema: z.ZodType<T>, text: string): T | null {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
