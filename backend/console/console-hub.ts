import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import {
  CONSOLE_DEVICE_METHODS,
  ConsoleClientMessage,
  TetherError,
  missingCase,
  type ConsoleServerMessage,
  type User,
} from '../../protocol/index.js';
import { closeWith } from '../agents/control-gateway.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { FleetEvents } from '../devices/fleet-events.js';
import type { MonitoringLive } from '../metrics/monitoring-live.js';

const RELAYED_METHODS: ReadonlySet<string> = new Set(CONSOLE_DEVICE_METHODS);
/** Requests one console may have in flight; more are refused with RATE_LIMITED. */
const MAX_PENDING_PER_CONSOLE = 256;
/** A console that cannot keep up is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** Live fleet updates to logged-in consoles, and device requests relayed from them. */
export class ConsoleHub {
  private readonly sockets = new Set<WebSocket>();

  constructor(private readonly deps: { events: FleetEvents; router: DeviceRouter; log: Logger; monitoring?: MonitoringLive }) {}

  readonly maxPayload = 256 * 1024;

  accept(ws: WebSocket, user: User): void {
    const send = (msg: ConsoleServerMessage): void => {
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return closeWith(ws, 'RATE_LIMITED');
      ws.send(JSON.stringify(msg));
    };
    this.sockets.add(ws);
    const unsubscribe = this.deps.events.subscribe(send);
    const live = this.deps.monitoring?.attach(send);
    let pending = 0;
    ws.on('close', () => {
      this.sockets.delete(ws);
      unsubscribe();
      live?.detach();
    });
    ws.on('error', (err) => this.deps.log.debug({ err }, 'console socket error'));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const message = isBinary ? null : parseClientMessage(data.toString());
      if (!message) return closeWith(ws, 'MESSAGE_MALFORMED');
      switch (message.type) {
        case 'device.request': {
          const { id, deviceId, method, params } = message;
          const answer = (result: Omit<Extract<ConsoleServerMessage, { type: 'device.response' }>, 'type' | 'id'>) =>
            ws.readyState === ws.OPEN && send({ type: 'device.response', id, ...result });
          if (!RELAYED_METHODS.has(method)) {
            answer({ ok: false, error: { code: 'METHOD_UNKNOWN', message: `Consoles may not call ${method}` } });
            return;
          }
          if (pending >= MAX_PENDING_PER_CONSOLE) {
            answer({ ok: false, error: { code: 'RATE_LIMITED', message: 'Too many requests in flight' } });
            return;
          }
          pending++;
          this.deps.router.request(deviceId, method, params).then(
            (result) => answer({ ok: true, result }),
            (err: unknown) => answer({ ok: false, error: wireError(err) }),
          ).finally(() => pending--);
          return;
        }
        case 'metrics.subscribe':
        case 'metrics.unsubscribe':
        case 'logs.subscribe':
        case 'logs.unsubscribe':
          live?.handle(message);
          return;
        default:
          missingCase(message);
      }
    });
    send({ type: 'ready', user });
  }

  close(): void {
    for (const ws of this.sockets) closeWith(ws, 'GOING_AWAY');
  }
}

function parseClientMessage(text: string): ConsoleClientMessage | null {
  try {
    const parsed = ConsoleClientMessage.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function wireError(err: unknown): { code: string; message: string } {
  if (err instanceof TetherError) return { code: err.code, message: err.message };
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: 'Internal error' };
}
