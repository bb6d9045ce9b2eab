import type { Msg, NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import { TetherError } from '../../protocol/index.js';
import type { LocalDeviceRouter } from '../devices/device-router.js';
import type { DeviceStream, StreamHandlers } from '../devices/link-streams.js';
import type { OpenedStreamReply } from './bus-messages.js';

/** What a stream message carries: bytes, or the end of the stream on the side that sends it. */
const DATA = 0;
const END = 1;
/** kind (1 byte) + the receiver's handle (uint32, big-endian), then the bytes. */
const HEADER_BYTES = 5;
/** A stream message's bytes at most, within NATS's default max_payload of 1 MiB. */
const MAX_CHUNK_BYTES = 512 * 1024;
const MAX_HANDLE = 0xffffffff;
/** Streams across nodes open on one node, both ends counted (a link holds at most 4,096 of its own). */
const MAX_OPEN = 1 << 20;

/** A stream this node opened on a device another node holds (a console here, the device there). */
interface Viewer {
  deviceId: string;
  /** The node holding the device's link. */
  holder: string;
  handlers: StreamHandlers;
  open: boolean;
}

/** The holder's end: a stream on one of this node's links whose bytes go to `node`. */
interface Proxy {
  stream: DeviceStream;
  node: string;
  /** The viewer's handle on `node`. */
  peer: number;
}

export interface BusStreamsDeps {
  nc: NatsConnection;
  nodeId: string;
  /** The subject carrying stream messages to a node. */
  subject(nodeId: string): string;
  local: LocalDeviceRouter;
  log: Logger;
}

/** What the holder answers a stream-open with. */
export type OpenedStream = OpenedStreamReply;

/**
 * Byte streams between a device's link on one node (the holder) and a feature on another (the
 * viewer: a shell, a command's output, a file transfer, a forward opened through a console there).
 *
 * The viewer asks the holder (request/reply on the holder's node subject, see NatsDeviceRouter)
 * to open a stream on the device's link, and gets back the stream's id on that link — the id the
 * device knows it by, which the feature then names in its requests and the device in its events —
 * and the holder's handle for it. From then on bytes go as plain NATS messages on the receiving
 * node's stream subject, `kind | handle | bytes`, in order (NATS keeps one publisher's order).
 *
 * Flow control is the feature's own, end to end: the device stops at its window until the
 * viewer's acknowledgements (events routed to the device like any other) come back, so the bus
 * never holds more than a window per stream.
 *
 * A stream ends on either side: the viewer closes it (END to the holder, which closes its end on
 * the link), or the link closes (END to the viewer, which tells its feature the link is gone). A
 * viewer whose holder stops holding the device (the node died, or the device reconnected
 * elsewhere) ends its streams on the next sweep; a holder ends the streams of viewers whose node
 * is gone.
 */
export class BusStreams {
  private readonly viewers = new Map<number, Viewer>();
  private readonly proxies = new Map<number, Proxy>();
  private nextHandle = 1;
  private subscription: Subscription | null = null;

  constructor(private readonly deps: BusStreamsDeps) {}

  start(): void {
    this.subscription = this.deps.nc.subscribe(this.deps.subject(this.deps.nodeId), {
      callback: (err, msg) => {
        if (err) this.deps.log.error({ err }, 'cluster stream subscription failed');
        else this.onMessage(msg);
      },
    });
  }

  /** Ends every stream both ways (the node is stopping). */
  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
    for (const handle of [...this.viewers.keys()]) this.endViewer(handle);
    for (const [handle, proxy] of [...this.proxies]) {
      this.proxies.delete(handle);
      proxy.stream.close();
      this.send(proxy.node, END, proxy.peer);
    }
  }

  get size(): { viewing: number; holding: number } {
    return { viewing: this.viewers.size, holding: this.proxies.size };
  }

  // ── viewer side ──

  /**
   * Opens a stream on a device held by `holder`; `ask` sends the open request to it and resolves
   * with its answer. The handlers hear bytes as soon as the holder sends them.
   */
  async open(holder: string, deviceId: string, handlers: StreamHandlers, ask: (handle: number) => Promise<OpenedStream>): Promise<DeviceStream> {
    const handle = this.allocate();
    const viewer: Viewer = { deviceId, holder, handlers, open: true };
    this.viewers.set(handle, viewer);
    let opened: OpenedStream;
    try {
      opened = await ask(handle);
    } catch (err) {
      this.viewers.delete(handle);
      throw err;
    }
    // The link closed between the holder's open and its answer (its END came first).
    if (!viewer.open) throw new TetherError('DEVICE_OFFLINE');
    return {
      id: opened.streamId,
      send: (data) => {
        if (!viewer.open) return false;
        for (let offset = 0; offset < data.length; offset += MAX_CHUNK_BYTES) {
          if (!this.send(holder, DATA, opened.handle, data.subarray(offset, offset + MAX_CHUNK_BYTES))) return false;
        }
        return true;
      },
      close: () => {
        if (!viewer.open) return;
        viewer.open = false;
        this.viewers.delete(handle);
        this.send(holder, END, opened.handle);
      },
    };
  }

  /**
   * Ends the streams whose device is no longer held by the node they were opened on: `holderOf`
   * says who holds a device now (undefined: nobody known, e.g. its node died).
   */
  sweepViewers(holderOf: (deviceId: string) => string | undefined): void {
    for (const [handle, viewer] of [...this.viewers]) {
      const holder = holderOf(viewer.deviceId);
      if (holder === viewer.holder) continue;
      this.deps.log.info({ deviceId: viewer.deviceId, was: viewer.holder, now: holder ?? null }, 'stream ended: its device is no longer on the node it was opened through');
      this.endViewer(handle);
    }
  }

  // ── holder side ──

  /** Opens a stream on this node's link of the device for a viewer on `node`; DEVICE_OFFLINE when this node has no link. */
  async serveOpen(deviceId: string, node: string, peer: number): Promise<OpenedStream> {
    const handle = this.allocate();
    const stream = await this.deps.local.openStream(deviceId, {
      onData: (data) => this.send(node, DATA, peer, data),
      onLinkClosed: () => {
        if (this.proxies.delete(handle)) this.send(node, END, peer);
      },
    });
    this.proxies.set(handle, { stream, node, peer });
    return { streamId: stream.id, handle };
  }

  /**
   * Ends the streams held for viewers on nodes that are no longer alive. The END still goes out:
   * should the node be alive after all (a late heartbeat), its feature learns the stream is gone
   * and reattaches, rather than waiting on bytes that never come.
   */
  sweepProxies(alive: ReadonlySet<string>): void {
    for (const [handle, proxy] of [...this.proxies]) {
      if (alive.has(proxy.node)) continue;
      this.proxies.delete(handle);
      proxy.stream.close();
      this.send(proxy.node, END, proxy.peer);
      this.deps.log.info({ node: proxy.node }, 'stream of a node that is gone closed');
    }
  }

  // ── the wire ──

  private onMessage(msg: Msg): void {
    const { data } = msg;
    if (data.length < HEADER_BYTES) return;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const kind = bytes[0];
    const handle = bytes.readUInt32BE(1);
    const viewer = this.viewers.get(handle);
    const proxy = this.proxies.get(handle);
    if (kind === DATA) {
      // A handle is in one map or the other for this node's role in the stream; the maps share no handles.
      if (viewer) viewer.handlers.onData(bytes.subarray(HEADER_BYTES));
      else proxy?.stream.send(bytes.subarray(HEADER_BYTES));
    } else if (kind === END) {
      if (viewer) this.endViewer(handle);
      else if (proxy) {
        this.proxies.delete(handle);
        proxy.stream.close();
      }
    }
  }

  /** The viewer's stream is over from the holder's side (or the holder is gone). */
  private endViewer(handle: number): void {
    const viewer = this.viewers.get(handle);
    if (!viewer) return;
    this.viewers.delete(handle);
    viewer.open = false;
    viewer.handlers.onLinkClosed();
  }

  /** Fire-and-forget, like a socket write; false when the connection is closed. */
  private send(node: string, kind: number, handle: number, data?: Uint8Array): boolean {
    const message = Buffer.allocUnsafe(HEADER_BYTES + (data?.length ?? 0));
    message[0] = kind;
    message.writeUInt32BE(handle, 1);
    if (data) message.set(data, HEADER_BYTES);
    try {
      this.deps.nc.publish(this.deps.subject(node), message);
      return true;
    } catch (err) {
      this.deps.log.warn({ err, node }, 'stream message not sent');
      return false;
    }
  }

  /** A handle unused in either map: they share one space, so a message's handle is never ambiguous. */
  private allocate(): number {
    if (this.viewers.size + this.proxies.size >= MAX_OPEN) throw new TetherError('RATE_LIMITED', 'Too many streams open across cluster nodes');
    for (;;) {
      const handle = this.nextHandle;
      this.nextHandle = handle >= MAX_HANDLE ? 1 : handle + 1;
      if (!this.viewers.has(handle) && !this.proxies.has(handle)) return handle;
    }
  }
}
