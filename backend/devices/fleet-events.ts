import type { Device } from '../../protocol/index.js';

/** What the console hub hears about the fleet. */
export type FleetEvent =
  | { type: 'device.status'; id: string; online: boolean; lastSeen: number | null }
  | { type: 'device.upsert'; device: Device }
  | { type: 'device.removed'; id: string };

/** A synchronous fan-out of fleet changes; listeners must not throw. */
export class FleetEvents {
  private readonly listeners = new Set<(event: FleetEvent) => void>();

  subscribe(listener: (event: FleetEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: FleetEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
