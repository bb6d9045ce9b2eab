import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { ForwardClientMessage, missingCase, type ForwardServerMessage, type User } from '../../protocol/index.js';
import { closeWith, parseJsonMessage, sendJson as sendAnyJson, toBuffer } from '../http/ws-messages.js';
import { errorCodeOf, type ForwardService, type ForwardTarget } from './forward-service.js';

/** This socket's server messages, typed. */
const sendJson: (ws: WebSocket, msg: ForwardServerMessage) => void = sendAnyJson;

/** Largest frame a forward client sends (its TCP reads are chunked by the client to this). */
export const FORWARD_SOCKET_MAX_PAYLOAD = 256 * 1024;
/** Bytes waiting in the WebSocket's send buffer above which the device's side is paused. */
const WS_HIGH_WATER_BYTES = 512 * 1024;

/**
 * One TCP connection of `tether forward` (or the desktop app) over `GET /api/v1/forward`: binary
 * frames are the connection's bytes, `{type:'end'}` a half-close, close 1000 a clean end and a
 * coded close an error. Back-pressure holds both ways: the client's frames stop being read while
 * the device's window is full, and the device's side pauses while this socket's buffer is full.
 */
export function acceptForwardSocket(ws: WebSocket, forwards: ForwardService, user: User, deviceId: string, target: ForwardTarget, log: Logger): void {
  ws.on('error', (err) => log.debug({ err }, 'forward socket error'));
  // Nothing is read from the client until the device connected.
  ws.pause();
  let gone = false;
  ws.once('close', () => (gone = true));
  forwards.open(user, deviceId, target, 'tcp').then(
    ({ id, socket }) => {
      if (gone) {
        socket.destroy();
        return;
      }
      ws.resume();
      sendJson(ws, { type: 'opened', forwardId: id, deviceId, host: target.host, port: target.port });
      ws.on('message', (data: RawData, isBinary: boolean) => {
        if (isBinary) {
          if (!socket.write(toBuffer(data))) ws.pause();
          return;
        }
        const message = parseJsonMessage(ForwardClientMessage, toBuffer(data).toString('utf8'));
        if (!message) {
          socket.destroy();
          closeWith(ws, 'MESSAGE_MALFORMED');
          return;
        }
        switch (message.type) {
          case 'end':
            socket.end();
            return;
          default:
            missingCase(message.type);
        }
      });
      socket.on('drain', () => ws.resume());
      socket.on('data', (chunk: Buffer) => {
        ws.send(chunk, { binary: true }, () => {
          if (socket.isPaused() && ws.bufferedAmount < WS_HIGH_WATER_BYTES / 2) socket.resume();
        });
        if (ws.bufferedAmount > WS_HIGH_WATER_BYTES) socket.pause();
      });
      socket.on('end', () => sendJson(ws, { type: 'end' }));
      socket.on('close', () => {
        const code = socket.errorCode;
        if (code === null) ws.close(1000, 'closed');
        else closeWith(ws, code);
      });
      ws.on('close', () => {
        if (!socket.destroyed) socket.destroy();
      });
    },
    (err: unknown) => {
      const code = errorCodeOf(err);
      log.info({ deviceId, host: target.host, port: target.port, code }, 'forward refused');
      // A paused socket would never read the client's answer to our close frame.
      ws.resume();
      closeWith(ws, code);
    },
  );
}

