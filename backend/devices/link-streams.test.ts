import { describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { LinkStreams } from './link-streams.js';

describe('LinkStreams', () => {
  it('allocates fresh ids, routes bytes by id, and drops bytes for ids it never opened', () => {
    const sent: Array<[number, number]> = [];
    const streams = new LinkStreams((id, data) => sent.push([id, data.length]) > 0, 4);
    const got: string[] = [];
    const a = streams.allocate({ onData: (d) => got.push(`a:${d.toString()}`), onLinkClosed: () => undefined });
    const b = streams.allocate({ onData: (d) => got.push(`b:${d.toString()}`), onLinkClosed: () => undefined });
    expect(a.id).not.toBe(b.id);
    expect(streams.deliver(b.id, Buffer.from('hi'))).toBe(true);
    expect(streams.deliver(999, Buffer.from('x'))).toBe(false);
    a.close();
    expect(streams.deliver(a.id, Buffer.from('late'))).toBe(false);
    expect(got).toEqual(['b:hi']);
    expect(streams.dropped).toBe(2);
    // Chunked to the frame bound.
    expect(b.send(Buffer.alloc(10))).toBe(true);
    expect(sent).toEqual([[b.id, 4], [b.id, 4], [b.id, 2]]);
  });

  it('tells every open stream once when the link closes, then refuses new ones with DEVICE_OFFLINE', () => {
    const streams = new LinkStreams(() => true, 1024);
    let closed = 0;
    streams.allocate({ onData: () => undefined, onLinkClosed: () => closed++ });
    streams.allocate({ onData: () => undefined, onLinkClosed: () => closed++ });
    streams.closeAll();
    streams.closeAll();
    expect(closed).toBe(2);
    try {
      streams.allocate({ onData: () => undefined, onLinkClosed: () => undefined });
      expect.unreachable();
    } catch (err) {
      expect((err as TetherError).code).toBe('DEVICE_OFFLINE');
    }
  });
});
