import type { MonitoringServerMessage } from '../../protocol/index.js';

type Listener = (message: MonitoringServerMessage) => void;

/**
 * Live monitoring messages for the views that draw them (charts, fleet gauges, log tail).
 * A plain fan-out outside React: samples arrive many times a second and must reach a
 * chart without a render.
 */
export interface MonitoringFeed {
  publish(message: MonitoringServerMessage): void;
  subscribe(listener: Listener): () => void;
}

export function createMonitoringFeed(): MonitoringFeed {
  const listeners = new Set<Listener>();
  return {
    publish(message) {
      for (const listener of listeners) {
        try {
          listener(message);
        } catch (error) {
          console.error('monitoring feed: a listener failed', error);
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
