import { TetherError, type ErrorCode } from '../../protocol/index.js';
import type { DeviceStream, LinkStreams, StreamHandlers } from './link-streams.js';

/** One live control channel of a device, as the router sees it. */
export interface DeviceLink {
  request(method: string, params: unknown, timeoutMs?: number): Promise<unknown>;
  emit(name: string, data: unknown): void;
  close(code: ErrorCode): void;
  /** Byte streams (PTY, command output) on this link; absent on links that carry none. */
  streams?: LinkStreams;
}

export type DeviceEventListener = (deviceId: string, name: string, data: unknown) => void;

/**
 * The one seam between fleet features and device connections (ARCHITECTURE §3). Features ask
 * it to reach device X; they never hold sockets. A cluster swaps this for a message-bus-backed
 * implementation with the same interface.
 */
export interface DeviceRouter {
  isConnected(deviceId: string): boolean;
  connectedCount(): number;
  /** Sends a request to a connected device; DEVICE_OFFLINE when it is not connected. */
  request(deviceId: string, method: string, params: unknown, timeoutMs?: number): Promise<unknown>;
  /** Sends an event to every connected device of the group; returns how many got it. */
  publish(deviceIds: Iterable<string>, name: string, data: unknown): number;
  /** Events from one device (`deviceId`) or from all (`'*'`). */
  subscribe(deviceId: string | '*', listener: DeviceEventListener): () => void;
  /** Closes a device's channel with `code` (revocation, supersede). */
  disconnect(deviceId: string, code: ErrorCode): boolean;
  /**
   * Opens a byte stream on the device's current link (on another node's link in a cluster);
   * DEVICE_OFFLINE when it is not connected. The stream's id is the one the device knows it by.
   */
  openStream(deviceId: string, handlers: StreamHandlers): Promise<DeviceStream>;
}

/**
 * What the control gateway tells the router about the links it opens and closes. The local
 * router keeps them in its map; the cluster router (backend/cluster/) also records where they are.
 */
export interface LinkRegistry {
  /** Registers a newly authenticated link; an older link of the same device is closed as superseded. */
  attach(deviceId: string, link: DeviceLink): void;
  /** Forgets a link if it is still the current one; returns whether it was. */
  detach(deviceId: string, link: DeviceLink): boolean;
  /** An event the device sent on its link. */
  deliver(deviceId: string, name: string, data: unknown): void;
  /** Whether the device is still connected anywhere (after a detach: was the link superseded?). */
  isConnected(deviceId: string): boolean;
}

/** The single-node router: an in-memory map of device id → live link. */
export class LocalDeviceRouter implements DeviceRouter, LinkRegistry {
  private readonly links = new Map<string, DeviceLink>();
  private readonly listeners = new Map<string, Set<DeviceEventListener>>();

  /** Registers a newly authenticated link; an older link of the same device is closed as superseded. */
  attach(deviceId: string, link: DeviceLink): void {
    const previous = this.links.get(deviceId);
    this.links.set(deviceId, link);
    if (previous && previous !== link) previous.close('DEVICE_SUPERSEDED');
  }

  /** Forgets a link if it is still the current one; returns whether it was. */
  detach(deviceId: string, link: DeviceLink): boolean {
    if (this.links.get(deviceId) !== link) return false;
    this.links.delete(deviceId);
    return true;
  }

  isConnected(deviceId: string): boolean {
    return this.links.has(deviceId);
  }

  connectedCount(): number {
    return this.links.size;
  }

  request(deviceId: string, method: string, params: unknown, timeoutMs?: number): Promise<unknown> {
    const link = this.links.get(deviceId);
    if (!link) return Promise.reject(new TetherError('DEVICE_OFFLINE'));
    return link.request(method, params, timeoutMs);
  }

  publish(deviceIds: Iterable<string>, name: string, data: unknown): number {
    let sent = 0;
    for (const id of deviceIds) {
      const link = this.links.get(id);
      if (!link) continue;
      link.emit(name, data);
      sent++;
    }
    return sent;
  }

  subscribe(deviceId: string | '*', listener: DeviceEventListener): () => void {
    let set = this.listeners.get(deviceId);
    if (!set) this.listeners.set(deviceId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(deviceId);
    };
  }

  /** Called by the control gateway for each event a device sends. */
  deliver(deviceId: string, name: string, data: unknown): void {
    for (const key of [deviceId, '*']) {
      for (const listener of this.listeners.get(key) ?? []) listener(deviceId, name, data);
    }
  }

  async openStream(deviceId: string, handlers: StreamHandlers): Promise<DeviceStream> {
    const streams = this.links.get(deviceId)?.streams;
    if (!streams) throw new TetherError('DEVICE_OFFLINE');
    return streams.allocate(handlers);
  }

  disconnect(deviceId: string, code: ErrorCode): boolean {
    const link = this.links.get(deviceId);
    if (!link) return false;
    this.links.delete(deviceId);
    link.close(code);
    return true;
  }
}
