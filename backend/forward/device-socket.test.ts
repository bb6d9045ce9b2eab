import { describe, expect, it } from 'vitest';
import { FORWARD_ACK_BATCH_BYTES } from '../../protocol/index.js';
import { DeviceSocket, type DeviceSocketLink } from './device-socket.js';

function fakeLink() {
  const sent: Buffer[] = [];
  const acks: number[] = [];
  const calls: string[] = [];
  const link: DeviceSocketLink = {
    send: (data) => {
      sent.push(data);
      return true;
    },
    ack: (bytes) => acks.push(bytes),
    end: () => calls.push('end'),
    close: (deviceClosed) => calls.push(`close:${deviceClosed}`),
  };
  return { link, sent, acks, calls };
}

const tick = () => new Promise((r) => setTimeout(r, 30));

describe('DeviceSocket', () => {
  it('holds writes above the high mark until the device acks, and resumes below the low one', async () => {
    const { link, sent } = fakeLink();
    const socket = new DeviceSocket(link, { highWaterBytes: 1000, lowWaterBytes: 400 });
    for (let i = 0; i < 5; i++) socket.write(Buffer.alloc(300));
    await tick();
    // 4 × 300 crosses 1000: the fourth write's callback waits, the fifth stays queued.
    expect(sent.length).toBe(4);
    socket.deviceAcked(600);
    await tick();
    expect(sent.length).toBe(4);
    socket.deviceAcked(300);
    await tick();
    expect(sent.length).toBe(5);
    socket.destroy();
  });

  it('acks what its reader consumed, batched, and stops acking while nobody reads', async () => {
    const { link, acks } = fakeLink();
    const socket = new DeviceSocket(link);
    socket.pause();
    socket.deviceData(Buffer.alloc(FORWARD_ACK_BATCH_BYTES * 2));
    await tick();
    expect(acks).toEqual([]);
    socket.read();
    await tick();
    expect(acks.reduce((a, b) => a + b, 0)).toBe(FORWARD_ACK_BATCH_BYTES * 2);
    socket.destroy();
  });

  it('is destroyed with RATE_LIMITED_CHANNEL when the device sends far beyond its credit', () => {
    const { link, calls } = fakeLink();
    const socket = new DeviceSocket(link, { maxUnreadBytes: 1000 });
    socket.on('error', () => undefined);
    socket.pause();
    socket.deviceData(Buffer.alloc(2000));
    expect(socket.destroyed).toBe(true);
    expect(socket.errorCode).toBe('RATE_LIMITED_CHANNEL');
    expect(calls).toEqual(['close:false']);
  });

  it('half-closes both ways: end() reaches the device, the device end ends the reader, and a clean close releases the stream', async () => {
    const { link, calls } = fakeLink();
    const socket = new DeviceSocket(link);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.end();
    await tick();
    expect(calls).toEqual(['end']);
    socket.deviceData(Buffer.from('late answer'));
    socket.deviceEnded();
    await tick();
    expect(Buffer.concat(chunks).toString()).toBe('late answer');
    socket.deviceGone(null);
    await tick();
    expect(socket.destroyed).toBe(true);
    expect(socket.errorCode).toBeNull();
    // Ended both ways, it went by itself before the device's close arrived: released once.
    expect(calls.filter((c) => c.startsWith('close'))).toHaveLength(1);
  });

  it('carries the device error code', async () => {
    const { link } = fakeLink();
    const socket = new DeviceSocket(link);
    const errors: unknown[] = [];
    socket.on('error', (e) => errors.push(e));
    socket.deviceGone('FORWARD_RESET', 'reset by peer');
    await tick();
    expect(socket.errorCode).toBe('FORWARD_RESET');
    expect(errors.length).toBe(1);
  });
});
