import type { ErrorCode } from '../../protocol/index.js';
import { TetherError } from '../../protocol/index.js';
import type { DeviceEventListener, DeviceRouter } from '../../backend/devices/device-router.js';
import type { DeviceStream, StreamHandlers } from '../../backend/devices/link-streams.js';

/**
 * A DeviceRouter with scripted devices, for services tested over a real store: requests are
 * recorded and answered by `answer`, streams and events are driven by the test.
 */
export class FakeDeviceRouter implements DeviceRouter {
  readonly online = new Set<string>();
  readonly requests: Array<{ deviceId: string; method: string; params: unknown }> = [];
  readonly streams = new Map<number, { deviceId: string; handlers: StreamHandlers; open: boolean }>();
  private readonly listeners = new Set<DeviceEventListener>();
  private nextStream = 1;

  constructor(private readonly answer: (method: string, params: unknown) => unknown = () => ({})) {}

  isConnected(deviceId: string): boolean {
    return this.online.has(deviceId);
  }

  connectedCount(): number {
    return this.online.size;
  }

  async request(deviceId: string, method: string, params: unknown): Promise<unknown> {
    if (!this.online.has(deviceId)) throw new TetherError('DEVICE_OFFLINE');
    this.requests.push({ deviceId, method, params });
    return this.answer(method, params);
  }

  publish(): number {
    return 0;
  }

  subscribe(_deviceId: string, listener: DeviceEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  disconnect(_deviceId: string, _code: ErrorCode): boolean {
    return false;
  }

  async openStream(deviceId: string, handlers: StreamHandlers): Promise<DeviceStream> {
    if (!this.online.has(deviceId)) throw new TetherError('DEVICE_OFFLINE');
    const id = this.nextStream++;
    const entry = { deviceId, handlers, open: true };
    this.streams.set(id, entry);
    return { id, send: () => entry.open, close: () => void (entry.open = false) };
  }

  /** The device sends bytes on a stream (dropped once the backend closed it, as on a real link). */
  data(streamId: number, bytes: string): void {
    const stream = this.streams.get(streamId);
    if (stream?.open) stream.handlers.onData(Buffer.from(bytes));
  }

  /** The device emits an event. */
  emit(deviceId: string, name: string, data: unknown): void {
    for (const listener of this.listeners) listener(deviceId, name, data);
  }

  /** Resolves when a request with this method has been sent (polling: the services send from async code). */
  async waitFor(method: string, count = 1): Promise<void> {
    for (let i = 0; i < 500 && this.requests.filter((r) => r.method === method).length < count; i++) await new Promise((r) => setTimeout(r, 5));
    if (this.requests.filter((r) => r.method === method).length < count) throw new Error(`no ${method} request`);
  }
}
