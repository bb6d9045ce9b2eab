import type { ConsoleClientMessage } from '../../protocol/index.js';

type Send = (message: ConsoleClientMessage) => boolean;

/**
 * The live streams the open views want, reference-counted: each view adds what it shows and
 * removes it when it unmounts. The whole set is sent again after every (re)connect, since a
 * new socket on the backend starts with none.
 */
export interface LiveSubscriptions {
  device(deviceId: string): () => void;
  fleet(names: string[]): () => void;
  logs(deviceId?: string): () => void;
  /** Call on every `ready`. */
  resend(): void;
}

export function createLiveSubscriptions(send: Send): LiveSubscriptions {
  const devices = new Map<string, number>();
  let fleet: { names: string[]; count: number } | null = null;
  let logs: { deviceId: string | undefined; count: number } | null = null;

  return {
    device(deviceId) {
      const n = devices.get(deviceId) ?? 0;
      devices.set(deviceId, n + 1);
      if (n === 0) send({ type: 'metrics.subscribe', target: deviceId });
      return () => {
        const left = (devices.get(deviceId) ?? 1) - 1;
        if (left > 0) devices.set(deviceId, left);
        else {
          devices.delete(deviceId);
          send({ type: 'metrics.unsubscribe', target: deviceId });
        }
      };
    },
    fleet(names) {
      fleet = { names, count: (fleet?.count ?? 0) + 1 };
      send({ type: 'metrics.subscribe', target: '*', names });
      return () => {
        if (fleet && --fleet.count > 0) return;
        fleet = null;
        send({ type: 'metrics.unsubscribe', target: '*' });
      };
    },
    logs(deviceId) {
      logs = { deviceId, count: (logs?.count ?? 0) + 1 };
      send(deviceId === undefined ? { type: 'logs.subscribe' } : { type: 'logs.subscribe', deviceId });
      return () => {
        if (logs && --logs.count > 0) return;
        logs = null;
        send({ type: 'logs.unsubscribe' });
      };
    },
    resend() {
      for (const id of devices.keys()) send({ type: 'metrics.subscribe', target: id });
      if (fleet) send({ type: 'metrics.subscribe', target: '*', names: fleet.names });
      if (logs) send(logs.deviceId === undefined ? { type: 'logs.subscribe' } : { type: 'logs.subscribe', deviceId: logs.deviceId });
    },
  };
}
