import { TetherError } from '../../protocol/index.js';

/** One byte stream on a device link (a PTY, a command's stdout or stderr). */
export interface DeviceStream {
  readonly id: number;
  /** Sends bytes to the device on this stream, chunked to the channel's frame bound; false once the link is gone. */
  send(data: Uint8Array): boolean;
  /** Stops routing the device's bytes of this stream (the id is not reused on this link). */
  close(): void;
}

export interface StreamHandlers {
  onData(data: Buffer): void;
  /** The link closed underneath the stream (device offline or superseded). */
  onLinkClosed(): void;
}

/** Bound on open streams per link: a runaway feature cannot grow the map without end. */
export const MAX_STREAMS_PER_LINK = 4096;
const MAX_STREAM_ID = 0xffffffff;

/**
 * The stream table of one device link. Ids are allocated here, on the backend, and bytes a
 * device sends are looked up only in its own link's table: a device can never write into a
 * stream of another device, whatever id it puts on a frame.
 */
export class LinkStreams {
  // Created on the first stream: most links never carry one.
  private open: Map<number, StreamHandlers> | null = null;
  private nextId = 1;
  private closed = false;
  /** Frames that named no open stream on this link (late output, or a confused device). */
  dropped = 0;

  constructor(
    private readonly sendFrame: (streamId: number, data: Uint8Array) => boolean,
    private readonly maxChunkBytes: number,
  ) {}

  get size(): number {
    return this.open?.size ?? 0;
  }

  /** Allocates a fresh id; RATE_LIMITED when the link has too many open streams, DEVICE_OFFLINE once closed. */
  allocate(handlers: StreamHandlers): DeviceStream {
    if (this.closed) throw new TetherError('DEVICE_OFFLINE');
    const open = (this.open ??= new Map());
    if (open.size >= MAX_STREAMS_PER_LINK || this.nextId > MAX_STREAM_ID) throw new TetherError('RATE_LIMITED', 'Too many streams on this device link');
    const id = this.nextId++;
    open.set(id, handlers);
    return {
      id,
      send: (data) => {
        if (this.closed) return false;
        for (let offset = 0; offset < data.length; offset += this.maxChunkBytes) {
          if (!this.sendFrame(id, data.subarray(offset, offset + this.maxChunkBytes))) return false;
        }
        return true;
      },
      close: () => {
        open.delete(id);
      },
    };
  }

  /** Routes bytes the device sent; returns whether an open stream took them. */
  deliver(streamId: number, data: Buffer): boolean {
    const handlers = this.open?.get(streamId);
    if (handlers === undefined) {
      this.dropped++;
      return false;
    }
    handlers.onData(data);
    return true;
  }

  /** The link is gone: every open stream hears it once. */
  closeAll(): void {
    if (this.closed) return;
    this.closed = true;
    const all = [...(this.open?.values() ?? [])];
    this.open = null;
    for (const handlers of all) handlers.onLinkClosed();
  }
}
