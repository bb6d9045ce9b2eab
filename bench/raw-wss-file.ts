/**
 * A file over a plain WebSocket, both ends of the `transfer` scenario's raw baseline (the bench's
 * client and bench/raw-wss-file-peer.ts): the sender's binary messages are the file's bytes, then
 * one text message `{"end": bytes}`. No framing, sealing, hashing or acks beyond the socket's own
 * back-pressure: the floor a file transfer over two wss hops is compared with.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import type WebSocket from 'ws';
import type { RawData } from 'ws';
import { z } from 'zod';

/** Bytes waiting in the socket's send buffer above which reading the file pauses (as `tether forward` does). */
const HIGH_WATER_BYTES = 1024 * 1024;

const End = z.object({ end: z.number().int().nonnegative() });

export function bytesOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** Sends `path` in messages of `chunkBytes`, then `{"end": bytes}`; resolves with the bytes sent once the socket took them all. */
export function sendFile(ws: WebSocket, path: string, chunkBytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const input = createReadStream(path, { highWaterMark: chunkBytes });
    let sent = 0;
    input.on('data', (chunk: Buffer | string) => {
      sent += chunk.length;
      ws.send(chunk, { binary: true }, () => {
        if (input.isPaused() && ws.bufferedAmount < HIGH_WATER_BYTES / 2) input.resume();
      });
      if (ws.bufferedAmount > HIGH_WATER_BYTES) input.pause();
    });
    input.on('end', () => ws.send(JSON.stringify({ end: sent }), (err) => (err ? reject(err) : resolve(sent))));
    input.on('error', reject);
    ws.once('close', () => {
      input.destroy();
      reject(new Error(`the socket closed after ${sent} bytes were sent`));
    });
  });
}

/**
 * Writes the binary messages that arrive to `path` (the socket paused while more than
 * `queueBytes` wait for the disk, 16 KB by default as for any write stream) until
 * `{"end": bytes}`, then fsyncs it; resolves with the bytes written.
 */
export function receiveFile(ws: WebSocket, path: string, queueBytes?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(path, { flush: true, ...(queueBytes !== undefined ? { highWaterMark: queueBytes } : {}) });
    let received = 0;
    let announced = -1;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const chunk = bytesOf(data);
      if (isBinary) {
        received += chunk.length;
        if (!out.write(chunk)) ws.pause();
        return;
      }
      const end = End.safeParse(JSON.parse(chunk.toString('utf8')));
      if (!end.success) return void reject(new Error(`unexpected message: ${chunk.toString('utf8').slice(0, 100)}`));
      announced = end.data.end;
      out.end();
    });
    out.on('drain', () => ws.resume());
    out.on('error', reject);
    out.on('close', () => (announced === received ? resolve(received) : reject(new Error(`received ${received} of ${announced} bytes`))));
    ws.once('close', () => {
      if (announced < 0) {
        out.destroy();
        reject(new Error(`the socket closed after ${received} bytes were received`));
      }
    });
  });
}
