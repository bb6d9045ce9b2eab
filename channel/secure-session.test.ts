import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ControlMessage } from '../protocol/control.js';
import type { TetherError } from '../protocol/errors.js';
import { decodePayload, encodeControlPayload, openFrame, readFrameHeader, sealFrame } from './frame.js';
import type { Established } from './handshake.js';
import { deriveSessionKeys } from './keys.js';
import { NORMAL_CLOSE_CODE, SecureSession, type SecureSessionOptions } from './secure-session.js';

type Side = 'client' | 'server';

interface Peer {
  session: SecureSession;
  /** Frames this side sent that the other has not received yet. */
  outbox: Buffer[];
  messages: ControlMessage[];
  streams: Array<{ id: number; data: Buffer }>;
  closes: Array<TetherError | null>;
  transportCloses: Array<{ code: number; reason: string }>;
}

interface Pair {
  client: Peer;
  server: Peer;
  established: Established;
  clock: { now: number };
  /** Delivers queued frames both ways until both outboxes are empty. */
  flush(): void;
  deliver(to: Side, count?: number): void;
}

type Overrides = Partial<Omit<SecureSessionOptions, 'role' | 'established' | 'transport' | 'onClose'>>;

function makePair(options: { common?: Overrides; client?: Overrides; server?: Overrides; sync?: boolean } = {}): Pair {
  const salt = randomBytes(32);
  const established: Established = { keys: deriveSessionKeys(randomBytes(32), salt, 0), salt };
  const clock = { now: 1_000_000 };
  const peers = {} as Record<Side, Peer>;
  const other = (side: Side): Side => (side === 'client' ? 'server' : 'client');
  for (const role of ['client', 'server'] as const) {
    const peer: Peer = {
      outbox: [],
      messages: [],
      streams: [],
      closes: [],
      transportCloses: [],
      session: undefined as unknown as SecureSession,
    };
    peer.session = new SecureSession({
      role,
      established,
      now: () => clock.now,
      onMessage: (m) => peer.messages.push(m),
      onStream: (id, data) => peer.streams.push({ id, data: Buffer.from(data) }),
      onClose: (e) => peer.closes.push(e),
      transport: {
        send: (frame) => {
          if (options.sync === true) peers[other(role)].session.receive(frame);
          else peer.outbox.push(frame);
        },
        close: (code, reason) => peer.transportCloses.push({ code, reason }),
      },
      ...options.common,
      ...options[role],
    });
    peers[role] = peer;
  }
  const deliver = (to: Side, count = Infinity): void => {
    const from = peers[other(to)];
    for (let i = 0; i < count && from.outbox.length > 0; i++) {
      const frame = from.outbox.shift();
      if (frame !== undefined) peers[to].session.receive(frame);
    }
  };
  return {
    client: peers.client,
    server: peers.server,
    established,
    clock,
    deliver,
    flush: () => {
      while (peers.client.outbox.length > 0 || peers.server.outbox.length > 0) {
        deliver('server');
        deliver('client');
      }
    },
  };
}

/** A frame the client could have sealed: valid keys, chosen counter and plaintext. */
function clientFrame(p: Pair, plaintext: Buffer, counter = 1000n, epoch = 0): Buffer {
  return sealFrame(p.established.keys.c2sKey, p.established.keys.c2sIv, epoch, counter, plaintext);
}

function expectClosedWith(peer: Peer, code: string, closeCode: number): void {
  expect(peer.session.closed).toBe(true);
  expect(peer.closes).toEqual([expect.objectContaining({ code })]);
  expect(peer.transportCloses).toEqual([{ code: closeCode, reason: code }]);
}

const evt = (seq: number): ControlMessage => ({ type: 'evt', name: 'seq', data: seq });

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('SecureSession', () => {
  it('carries control messages both ways and hides ping/pong', () => {
    const p = makePair();
    p.server.session.send({ type: 'welcome', deviceId: 'dev_abcdefghijklmnopqrstuvwx', heartbeatMs: 30_000 });
    p.client.session.send({ type: 'req', id: 1, method: 'm', params: { a: [1, 'ü'] } });
    p.client.session.send({ type: 'ping', ts: 5 });
    p.flush();
    expect(p.client.messages).toEqual([{ type: 'welcome', deviceId: 'dev_abcdefghijklmnopqrstuvwx', heartbeatMs: 30_000 }]);
    expect(p.server.messages).toEqual([{ type: 'req', id: 1, method: 'm', params: { a: [1, 'ü'] } }]);
    expect(p.client.closes).toEqual([]);
    expect(p.server.closes).toEqual([]);
  });

  it('answers a ping with a pong carrying the same ts', () => {
    const p = makePair();
    p.client.session.send({ type: 'ping', ts: 1234 });
    p.deliver('server');
    const [pong] = p.server.outbox;
    if (pong === undefined) throw new Error('no pong');
    const { s2cKey, s2cIv } = p.established.keys;
    const payload = decodePayload(openFrame(s2cKey, s2cIv, pong).plaintext);
    expect(payload.kind === 'control' && JSON.parse(payload.json)).toEqual({ type: 'pong', ts: 1234 });
    p.deliver('client');
    expect(p.client.closes).toEqual([]);
    expect(p.client.messages).toEqual([]);
    expect(p.server.messages).toEqual([]);
  });

  it('round-trips stream data as raw bytes', () => {
    const p = makePair({ common: { maxFrameBytes: 4096 } });
    const big = randomBytes(p.client.session.maxStreamChunkBytes);
    p.client.session.sendStream(7, Uint8Array.of(0, 1, 255));
    p.client.session.sendStream(0xffffffff, new Uint8Array(0));
    p.server.session.sendStream(3, big);
    p.flush();
    expect(p.server.streams).toEqual([
      { id: 7, data: Buffer.from([0, 1, 255]) },
      { id: 0xffffffff, data: Buffer.alloc(0) },
    ]);
    expect(p.client.streams).toHaveLength(1);
    expect(p.client.streams[0]?.data.equals(big)).toBe(true);
  });

  it('refuses to send an oversize message or chunk without closing (FRAME_TOO_LARGE)', () => {
    const p = makePair({ common: { maxFrameBytes: 1024 } });
    expect(() => p.client.session.sendStream(1, new Uint8Array(p.client.session.maxStreamChunkBytes + 1))).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    );
    expect(() => p.client.session.send({ type: 'evt', name: 'x', data: 'y'.repeat(2000) })).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    );
    expect(p.client.session.closed).toBe(false);
    expect(p.client.outbox).toEqual([]);
  });

  it('refuses to send a message that breaks the schema without closing (MESSAGE_MALFORMED)', () => {
    const p = makePair();
    expect(() => p.client.session.send({ type: 'evt', name: '', data: 1 })).toThrow(expect.objectContaining({ code: 'MESSAGE_MALFORMED' }));
    expect(p.client.session.closed).toBe(false);
  });

  describe('bad frames close the channel', () => {
    it('a flipped byte → FRAME_AUTH_FAILED (4440)', () => {
      const p = makePair();
      p.client.session.send(evt(1));
      const frame = p.client.outbox[0];
      if (frame === undefined) throw new Error('no frame');
      frame[20] = (frame[20] ?? 0) ^ 0x01;
      p.deliver('server');
      expectClosedWith(p.server, 'FRAME_AUTH_FAILED', 4440);
      expect(p.server.messages).toEqual([]);
    });

    it('a replayed frame → FRAME_REPLAY (4441)', () => {
      const p = makePair();
      p.client.session.send(evt(1));
      const frame = p.client.outbox[0];
      if (frame === undefined) throw new Error('no frame');
      p.deliver('server');
      p.server.session.receive(Buffer.from(frame));
      expect(p.server.messages).toEqual([evt(1)]);
      expectClosedWith(p.server, 'FRAME_REPLAY', 4441);
    });

    it('reordered frames → FRAME_REPLAY', () => {
      const p = makePair();
      p.client.session.send(evt(1));
      p.client.session.send(evt(2));
      p.client.outbox.reverse();
      p.deliver('server');
      expect(p.server.messages).toEqual([evt(2)]);
      expectClosedWith(p.server, 'FRAME_REPLAY', 4441);
    });

    it('a frame above maxFrameBytes → FRAME_TOO_LARGE (4442)', () => {
      const p = makePair({ common: { maxFrameBytes: 1024 } });
      p.server.session.receive(Buffer.alloc(1025));
      expectClosedWith(p.server, 'FRAME_TOO_LARGE', 4442);
    });

    it('a frame shorter than its overhead → FRAME_MALFORMED (4443)', () => {
      const p = makePair();
      p.server.session.receive(Buffer.alloc(10));
      expectClosedWith(p.server, 'FRAME_MALFORMED', 4443);
    });

    it('an unknown payload kind → FRAME_MALFORMED', () => {
      const p = makePair();
      p.server.session.receive(clientFrame(p, Buffer.from([0x07, 1, 2, 3])));
      expectClosedWith(p.server, 'FRAME_MALFORMED', 4443);
    });

    it('malformed JSON → MESSAGE_MALFORMED (4444)', () => {
      const p = makePair();
      p.server.session.receive(clientFrame(p, encodeControlPayload('{"type":"evt",')));
      expectClosedWith(p.server, 'MESSAGE_MALFORMED', 4444);
    });

    it.each([['[1,2]'], ['"evt"'], ['{"name":"x"}'], ['{"type":"ping"}'], ['{"type":"req","id":-1,"method":"m"}']])(
      'JSON of the wrong shape %s → MESSAGE_MALFORMED',
      (json) => {
        const p = makePair();
        p.server.session.receive(clientFrame(p, encodeControlPayload(json)));
        expectClosedWith(p.server, 'MESSAGE_MALFORMED', 4444);
      },
    );

    it('an unknown message type → MESSAGE_UNKNOWN_TYPE (4445), even when otherwise malformed', () => {
      const p = makePair();
      p.server.session.receive(clientFrame(p, encodeControlPayload('{"type":"hello","v":1}')));
      expectClosedWith(p.server, 'MESSAGE_UNKNOWN_TYPE', 4445);
    });

    it('a frame of an epoch without keys → FRAME_AUTH_FAILED', () => {
      const p = makePair();
      p.server.session.receive(clientFrame(p, encodeControlPayload(JSON.stringify(evt(1))), 0n, 3));
      expectClosedWith(p.server, 'FRAME_AUTH_FAILED', 4440);
    });

    it('a frame sealed with the other direction key → FRAME_AUTH_FAILED', () => {
      const p = makePair();
      p.server.session.send(evt(1));
      const frame = p.server.outbox[0];
      if (frame === undefined) throw new Error('no frame');
      p.server.session.receive(frame);
      expectClosedWith(p.server, 'FRAME_AUTH_FAILED', 4440);
    });

    it('a throwing onMessage → INTERNAL (1011)', () => {
      const p = makePair();
      const session = new SecureSession({
        role: 'server',
        established: p.established,
        transport: { send: () => undefined, close: (code, reason) => p.server.transportCloses.push({ code, reason }) },
        onMessage: () => {
          throw new Error('handler bug');
        },
        onClose: (e) => p.server.closes.push(e),
      });
      p.client.session.send(evt(1));
      const frame = p.client.outbox[0];
      if (frame === undefined) throw new Error('no frame');
      session.receive(frame);
      expect(session.closed).toBe(true);
      expect(p.server.closes).toEqual([expect.objectContaining({ code: 'INTERNAL' })]);
      expect(p.server.transportCloses).toEqual([{ code: 1011, reason: 'INTERNAL' }]);
    });

    it('closes once and ignores everything after', () => {
      const p = makePair();
      p.server.session.receive(Buffer.alloc(3));
      p.server.session.receive(Buffer.alloc(3));
      p.server.session.tick(p.clock.now + 10 * 60_000);
      p.server.session.close();
      expect(p.server.closes).toHaveLength(1);
      expect(p.server.transportCloses).toHaveLength(1);
      expect(p.server.session.send(evt(1))).toBe(false);
      expect(p.server.session.sendStream(1, Uint8Array.of(1))).toBe(false);
      expect(p.server.outbox).toEqual([]);
    });
  });

  describe('close', () => {
    it('closes normally with 1000 and onClose(null)', () => {
      const p = makePair();
      p.client.session.close();
      expect(p.client.session.closed).toBe(true);
      expect(p.client.closes).toEqual([null]);
      expect(p.client.transportCloses).toEqual([{ code: NORMAL_CLOSE_CODE, reason: '' }]);
    });

    it('closes with a code as its close code and reason', () => {
      const p = makePair();
      p.server.session.close('DEVICE_REVOKED');
      expectClosedWith(p.server, 'DEVICE_REVOKED', 4421);
    });

    it('reports a transport closed underneath without closing it again', () => {
      const p = makePair();
      p.server.session.transportClosed();
      p.server.session.close();
      expect(p.server.closes).toEqual([null]);
      expect(p.server.transportCloses).toEqual([]);
    });
  });

  describe('heartbeat', () => {
    it('pings when idle and stays up while the peer answers', () => {
      const p = makePair();
      for (let i = 0; i < 20; i++) {
        p.clock.now += 30_000;
        p.client.session.tick();
        p.server.session.tick();
        p.flush();
      }
      expect(p.client.session.closed).toBe(false);
      expect(p.server.session.closed).toBe(false);
      expect(p.client.messages).toEqual([]);
      expect(p.server.messages).toEqual([]);
    });

    it('sends a ping only after heartbeatMs without sending', () => {
      const p = makePair();
      p.client.session.tick(p.clock.now + 29_999);
      expect(p.client.outbox).toHaveLength(0);
      p.client.session.tick(p.clock.now + 30_000);
      expect(p.client.outbox).toHaveLength(1);
    });

    it('drops a silent peer after silenceMs with HEARTBEAT_TIMEOUT (4447)', () => {
      const p = makePair();
      p.server.session.tick(p.clock.now + 89_999);
      expect(p.server.session.closed).toBe(false);
      p.server.session.tick(p.clock.now + 90_000);
      expectClosedWith(p.server, 'HEARTBEAT_TIMEOUT', 4447);
    });

    it('counts any authenticated frame as a sign of life', () => {
      const p = makePair();
      p.clock.now += 80_000;
      p.client.session.sendStream(1, Uint8Array.of(1));
      p.flush();
      p.server.session.tick(p.clock.now + 80_000);
      expect(p.server.session.closed).toBe(false);
    });
  });

  describe('rekey', () => {
    it('rotates after rekeyAfterMs, initiated by the client', () => {
      const p = makePair({ common: { rekeyAfterMs: 60_000 } });
      p.clock.now += 59_999;
      p.client.session.tick();
      p.server.session.tick();
      expect(p.client.outbox).toHaveLength(1); // only the heartbeat ping
      p.flush();
      p.clock.now += 1;
      p.client.session.tick();
      p.flush();
      expect(p.client.session.epoch).toBe(1);
      expect(p.server.session.epoch).toBe(1);
      p.client.session.send(evt(1));
      p.server.session.send(evt(2));
      const frames = [...p.client.outbox, ...p.server.outbox];
      expect(frames.map((f) => readFrameHeader(f))).toEqual([
        { epoch: 1, counter: 0n },
        { epoch: 1, counter: 0n },
      ]);
      p.flush();
      expect(p.server.messages).toEqual([evt(1)]);
      expect(p.client.messages).toEqual([evt(2)]);
    });

    it('rotates after rekeyAfterFrames (sent + received)', () => {
      const p = makePair({ common: { rekeyAfterFrames: 4 } });
      p.client.session.send(evt(1));
      p.client.session.send(evt(2));
      p.flush();
      p.server.session.send(evt(3));
      p.server.session.send(evt(4));
      p.flush();
      expect(p.client.session.epoch).toBe(1);
      expect(p.server.session.epoch).toBe(1);
    });

    it('keeps every message in order across many rotations with frames in flight both ways', () => {
      const p = makePair({ common: { rekeyAfterFrames: 5, maxRekeysPerMinute: Infinity } }); // hundreds of rotations in no virtual time
      const rand = mulberry32(42);
      let toServer = 0;
      let toClient = 0;
      let oldEpochFramesAfterServerSwitched = 0;
      const N = 1000;
      while (toServer < N || toClient < N) {
        const r = rand();
        if (r < 0.3 && toServer < N) p.client.session.send(evt(toServer++));
        else if (r < 0.6 && toClient < N) p.server.session.send(evt(toClient++));
        else if (r < 0.8) {
          const next = p.client.outbox[0];
          if (next !== undefined && readFrameHeader(next).epoch < p.server.session.epoch) oldEpochFramesAfterServerSwitched++;
          p.deliver('server', 1 + Math.floor(rand() * 4));
        } else p.deliver('client', 1 + Math.floor(rand() * 4));
      }
      p.flush();
      const seqs = (peer: Peer) => peer.messages.map((m) => (m.type === 'evt' ? m.data : null));
      expect(p.client.closes).toEqual([]);
      expect(p.server.closes).toEqual([]);
      expect(seqs(p.server)).toEqual([...Array(N).keys()]);
      expect(seqs(p.client)).toEqual([...Array(N).keys()]);
      expect(p.client.session.epoch).toBeGreaterThan(50);
      expect(p.server.session.epoch).toBe(p.client.session.epoch);
      // The interesting case actually happened: the server read old-epoch frames after switching.
      expect(oldEpochFramesAfterServerSwitched).toBeGreaterThan(0);
    });

    it('survives a synchronous (re-entrant) transport', () => {
      const p = makePair({ common: { rekeyAfterFrames: 3, maxRekeysPerMinute: Infinity }, sync: true });
      for (let i = 0; i < 200; i++) {
        p.client.session.send(evt(i));
        p.server.session.send(evt(i));
      }
      expect(p.client.closes).toEqual([]);
      expect(p.server.closes).toEqual([]);
      expect(p.server.messages).toHaveLength(200);
      expect(p.client.messages).toHaveLength(200);
      expect(p.client.session.epoch).toBeGreaterThan(10);
    });

    it('refuses old-epoch frames once the new epoch is in use (FRAME_REPLAY)', () => {
      const p = makePair({ common: { rekeyAfterFrames: 2 } });
      p.client.session.send(evt(1));
      p.client.session.send(evt(2)); // triggers the rekey
      p.flush();
      p.client.session.send(evt(3));
      p.flush();
      expect(p.server.messages).toEqual([evt(1), evt(2), evt(3)]);
      p.server.session.receive(clientFrame(p, encodeControlPayload(JSON.stringify(evt(9))), 99n, 0));
      expectClosedWith(p.server, 'FRAME_REPLAY', 4441);
    });

    it('a rekey from the server → REKEY_FAILED (4446) at the client', () => {
      const p = makePair();
      p.server.session.send({ type: 'rekey', ephemeral: randomBytes(32).toString('base64'), nonce: randomBytes(32).toString('base64') });
      p.flush();
      expectClosedWith(p.client, 'REKEY_FAILED', 4446);
    });

    it('an unsolicited rekey_ack → REKEY_FAILED', () => {
      const p = makePair();
      p.server.session.send({ type: 'rekey_ack', ephemeral: randomBytes(32).toString('base64'), nonce: randomBytes(32).toString('base64') });
      p.flush();
      expectClosedWith(p.client, 'REKEY_FAILED', 4446);
    });

    it('a second rekey in the same epoch → REKEY_FAILED at the server', () => {
      const p = makePair();
      const rekey = (): ControlMessage => ({ type: 'rekey', ephemeral: randomBytes(32).toString('base64'), nonce: randomBytes(32).toString('base64') });
      p.client.session.send(rekey());
      p.client.session.send(rekey());
      p.deliver('server');
      expectClosedWith(p.server, 'REKEY_FAILED', 4446);
    });

    it('a low-order rekey key → REKEY_FAILED', () => {
      const p = makePair();
      p.client.session.send({ type: 'rekey', ephemeral: Buffer.alloc(32).toString('base64'), nonce: randomBytes(32).toString('base64') });
      p.deliver('server');
      expectClosedWith(p.server, 'REKEY_FAILED', 4446);
    });

    it('gives up when the rekey is never acknowledged (REKEY_FAILED)', () => {
      const p = makePair({ common: { rekeyAfterMs: 10_000 } });
      p.clock.now += 10_000;
      p.client.session.tick();
      p.client.outbox.length = 0; // the rekey is lost
      for (let i = 0; i < 3; i++) {
        p.clock.now += 30_000;
        p.server.session.tick();
        p.flush();
        p.client.session.tick();
      }
      expectClosedWith(p.client, 'REKEY_FAILED', 4446);
    });

    it('bounds rekeys per minute at the server (RATE_LIMITED_CHANNEL, 4448), and allows them again a minute later', () => {
      const p = makePair({ common: { rekeyAfterFrames: 1 }, server: { maxRekeysPerMinute: 5 } });
      for (let i = 0; i < 5; i++) {
        p.client.session.send(evt(i));
        p.flush();
      }
      expect(p.server.session.closed).toBe(false);
      expect(p.server.session.epoch).toBe(5);
      p.clock.now += 60_000;
      p.client.session.send(evt(5));
      p.flush();
      expect(p.server.session.epoch).toBe(6);
      for (let i = 0; i < 5; i++) {
        p.client.session.send(evt(10 + i));
        p.flush();
      }
      expectClosedWith(p.server, 'RATE_LIMITED_CHANNEL', 4448);
    });

    it('a client rekeying in a loop is closed by the default bound', () => {
      const p = makePair({ client: { rekeyAfterFrames: 1 } });
      for (let i = 0; i < 50 && !p.server.session.closed; i++) {
        p.client.session.send(evt(i));
        p.flush();
      }
      expectClosedWith(p.server, 'RATE_LIMITED_CHANNEL', 4448);
    });
  });
});
