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
import { closeWith } from '../http/ws-messages.js';
import { scopeConsoleMessage } from '../auth/console-scope.js';
import type { DeviceAccess } from '../auth/device-access.js';
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
  private readonly userOf = new Map<WebSocket, number>();

  /** `access` applies users' device scopes to requests and to everything pushed. */
  constructor(private readonly deps: { events: FleetEvents; router: DeviceRouter; log: Logger; monitoring?: MonitoringLive; access?: DeviceAccess }) {}

  readonly maxPayload = 256 * 1024;

  accept(ws: WebSocket, user: User): void {
    const access = this.deps.access;
    const send = (msg: ConsoleServerMessage): void => {
      const visible = access ? scopeConsoleMessage(access, user, msg) : msg;
      if (!visible) return;
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return closeWith(ws, 'RATE_LIMITED');
      ws.send(JSON.stringify(visible));
    };
    this.sockets.add(ws);
    this.userOf.set(ws, user.id);
    const unsubscribe = this.deps.events.subscribe(send);
    const live = this.deps.monitoring?.attach(send);
    let pending = 0;
    ws.on('close', () => {
      this.sockets.delete(ws);
      this.userOf.delete(ws);
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
          if (access && user.scope && !access.sees(user, deviceId)) {
            answer({ ok: false, error: { code: 'NOT_FOUND', message: 'No such device' } });
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
          // Samples of an out-of-scope device are dropped on the way out too; refusing here keeps the subscription slot free.
          if (access && message.target !== '*' && user.scope && !access.sees(user, message.target)) return;
          live?.handle(message);
          return;
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

  /** Closes every console of a user whose sessions just ended (logout everywhere, password or role change). */
  closeUser(userId: number): void {
    for (const [ws, id] of this.userOf) if (id === userId) closeWith(ws, 'SESSION_INVALID');
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
