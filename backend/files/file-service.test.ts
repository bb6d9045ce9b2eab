import { PassThrough, Writable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FILE_FRAME_BYTES, FILE_WINDOW_HIGH_BYTES, TetherError, type User } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { LocalDeviceRouter, type DeviceLink } from '../devices/device-router.js';
import { LinkStreams } from '../devices/link-streams.js';
import { rangeStart } from './file-routes.js';
import { FileService } from './file-service.js';

const DEVICE = 'dev_aaaaaaaaaaaaaaaaaaaa';
const user: User = { id: 1, username: 'op', role: 'operator', scope: null };

/** A device link whose agent answers requests with `answer` and records the stream bytes it got. */
function fakeDevice(answer: (method: string, params: Record<string, unknown>) => unknown) {
  const router = new LocalDeviceRouter();
  const received: Buffer[] = [];
  const requests: string[] = [];
  const emitted: Array<{ name: string; data: unknown }> = [];
  const streams = new LinkStreams((_id, data) => (received.push(Buffer.from(data)), true), 64 * 1024);
  const link: DeviceLink = {
    request: async (method, params) => {
      requests.push(method);
      return answer(method, params as Record<string, unknown>);
    },
    emit: (name, data) => void emitted.push({ name, data }),
    close: () => undefined,
    streams,
  };
  router.attach(DEVICE, link);
  const audits: Array<{ action: string; details: Record<string, unknown> }> = [];
  const audit = { record: async (_actor: string, action: string, _target: string | null, details: Record<string, unknown> = {}) => void audits.push({ action, details }) } as unknown as AuditLog;
  const service = new FileService({ router, audit, log: pino({ level: 'silent' }) });
  const sent = () => received.reduce((n, b) => n + b.length, 0);
  return { router, service, streams, received, requests, emitted, audits, sent, event: (name: string, data: unknown) => router.deliver(DEVICE, name, data) };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('FileService uploads', () => {
  it('pauses the client at the window until the agent credits written bytes', async () => {
    const size = 3 * FILE_WINDOW_HIGH_BYTES;
    let streamId = 0;
    const device = fakeDevice((method, params) => {
      if (method === 'file.upload.open') {
        streamId = Number(params.streamId);
        return { offset: 0 };
      }
      if (method === 'file.upload.commit') return { path: '/tmp/x', size, sha256: 'a'.repeat(64) };
      return {};
    });
    const body = new PassThrough() as PassThrough & { complete: boolean };
    body.complete = false;
    const done = device.service.upload(user, DEVICE, { path: '/tmp/x', transfer: 'transfer-1', offset: 0, size, sha256: 'a'.repeat(64) }, undefined, body as unknown as IncomingMessage);
    const chunk = Buffer.alloc(64 * 1024, 1);
    let written = 0;
    // The client writes as fast as the body takes it.
    const pump = async () => {
      while (written < size) {
        if (!body.write(chunk)) await new Promise((r) => body.once('drain', r));
        written += chunk.length;
      }
      body.complete = true;
      body.end();
    };
    const pumping = pump();
    await tick();
    await tick();
    // Nothing acked: the device got at most the window (and the body buffers at most its own high-water mark).
    expect(device.sent()).toBeGreaterThanOrEqual(FILE_WINDOW_HIGH_BYTES);
    expect(device.sent()).toBeLessThanOrEqual(FILE_WINDOW_HIGH_BYTES + chunk.length);
    let credited = 0;
    let finished = false;
    void done.finally(() => (finished = true)).catch(() => undefined);
    // The agent credits what it wrote; the last credit also lets the body's end through.
    while (!finished) {
      if (device.sent() > credited) device.event('file.written', { streamId, bytes: device.sent() - credited });
      credited = device.sent();
      await tick();
    }
    await pumping;
    await expect(done).resolves.toMatchObject({ size });
    expect(device.requests).toEqual(['file.upload.open', 'file.upload.commit']);
    expect(device.audits).toEqual([{ action: 'file.upload', details: expect.objectContaining({ path: '/tmp/x', size, outcome: 'completed' }) }]);
  });

  it('fails with the agent\'s code when writing fails, closes nothing it still needs, and audits it', async () => {
    let streamId = 0;
    const device = fakeDevice((method, params) => {
      if (method === 'file.upload.open') {
        streamId = Number(params.streamId);
        return { offset: 0 };
      }
      return {};
    });
    const body = new PassThrough() as PassThrough & { complete: boolean };
    const done = device.service.upload(user, DEVICE, { path: '/tmp/y', transfer: 'transfer-2', offset: 0, size: 1000, sha256: 'b'.repeat(64) }, undefined, body as unknown as IncomingMessage);
    body.write(Buffer.alloc(100));
    await tick();
    device.event('file.failed', { streamId, error: { code: 'NO_SPACE', message: 'disk full' } });
    await expect(done).rejects.toMatchObject({ code: 'NO_SPACE' });
    expect(device.audits[0]?.details).toMatchObject({ outcome: 'failed', code: 'NO_SPACE' });
  });

  it('answers DEVICE_OFFLINE for a device without a link', async () => {
    const device = fakeDevice(() => ({}));
    await expect(device.service.list('dev_bbbbbbbbbbbbbbbbbbbb', '/tmp')).rejects.toBeInstanceOf(TetherError);
  });
});

describe('FileService downloads', () => {
  it('acknowledges the device\'s bytes as the response takes them, not once it has drained', async () => {
    const frames = FILE_WINDOW_HIGH_BYTES / FILE_FRAME_BYTES;
    const size = frames * FILE_FRAME_BYTES;
    let streamId = 0;
    const device = fakeDevice((method, params) => {
      if (method === 'file.download.open') {
        streamId = Number(params.streamId);
        return { path: '/tmp/z', size, sha256: 'c'.repeat(64), mode: 0o644, modifiedAt: 0 };
      }
      return {};
    });
    const { body } = await device.service.download(user, DEVICE, '/tmp/z');
    // The agent sends a whole window, then waits for acks.
    for (let i = 0; i < frames; i++) device.streams.deliver(streamId, Buffer.alloc(FILE_FRAME_BYTES, i));
    // A response that takes one chunk whenever the test lets it.
    const held: Array<() => void> = [];
    let taken = 0;
    const response = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        taken += chunk.length;
        held.push(callback);
      },
    });
    const done = new Promise((resolve) => response.on('finish', resolve));
    body.pipe(response);
    const acked = () => device.emitted.filter((e) => e.name === 'file.ack').reduce((n, e) => n + (e.data as { bytes: number }).bytes, 0);
    await tick();
    expect(acked()).toBe(0);
    while (taken < size / 2) {
      held.shift()?.();
      await tick();
    }
    // Half the window taken: the agent has heard of all but what the response is still writing.
    expect(acked()).toBeGreaterThanOrEqual(taken - 2 * FILE_FRAME_BYTES);
    device.event('file.download.end', { streamId, bytes: size });
    while (taken < size || held.length > 0) {
      held.shift()?.();
      await tick();
    }
    await done;
    expect(device.audits).toEqual([{ action: 'file.download', details: expect.objectContaining({ path: '/tmp/z', sent: size, outcome: 'completed' }) }]);
  });
});

describe('rangeStart', () => {
  it('takes bytes=N- and refuses every other range', () => {
    expect(rangeStart(undefined)).toBe(0);
    expect(rangeStart('bytes=0-')).toBe(0);
    expect(rangeStart('bytes=1048576-')).toBe(1048576);
    for (const header of ['bytes=0-10', 'bytes=-5', 'items=1-', 'bytes=1-,5-', 'bytes=99999999999999999-']) {
      expect(() => rangeStart(header), header).toThrow(expect.objectContaining({ code: 'RANGE_NOT_SATISFIABLE' }));
    }
  });
});
