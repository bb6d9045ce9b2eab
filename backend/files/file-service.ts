import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { FlowWindow } from '../../channel/flow-window.js';
import { OutputCoalescer } from '../../channel/output-coalescer.js';
import {
  AGENT_METHODS,
  FILE_ACK_BATCH_BYTES,
  FILE_ACK_DELAY_MS,
  FILE_AGENT_EVENTS,
  FILE_FRAME_BYTES,
  FILE_SHA256_HEADER,
  FILE_WINDOW_HIGH_BYTES,
  FILE_WINDOW_LOW_BYTES,
  headerListHas,
  isErrorCode,
  Sha256Hex,
  TetherError,
  type AgentMethod,
  type AgentResult,
  type FileListing,
  type FileResult,
  type UploadQuery,
  type User,
} from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { DeviceStream } from '../devices/link-streams.js';

export interface FileLimits {
  /** `file.list`, `file.upload.status`, `file.upload.open` (which re-hashes a resumed part file). */
  requestTimeoutMs: number;
  /** `file.download.open` hashes the whole file before the first byte: minutes for a large one. */
  downloadOpenTimeoutMs: number;
  /** `file.upload.commit` waits for the last writes and an fsync. */
  commitTimeoutMs: number;
  /** An upload whose client sends nothing (while the window is open) for this long is cut. */
  idleMs: number;
  maxPerDevice: number;
}

export const DEFAULT_FILE_LIMITS: FileLimits = {
  requestTimeoutMs: 120_000,
  downloadOpenTimeoutMs: 15 * 60_000,
  commitTimeoutMs: 120_000,
  idleMs: 60_000,
  maxPerDevice: 8,
};

export interface FileServiceDeps {
  router: DeviceRouter;
  audit: AuditLog;
  log: Logger;
  limits?: Partial<FileLimits>;
}

export type TransferOutcome = 'completed' | 'failed' | 'interrupted';

/** What the device says about one of our streams. */
interface StreamListener {
  written?(bytes: number): void;
  failed?(error: TetherError): void;
  ended?(bytes: number, error: TetherError | null, sha256: string | undefined): void;
}

/** A device's or the router's error (RpcError, TetherError) as a TetherError with one of our codes. */
export function deviceError(err: unknown): TetherError {
  if (err instanceof TetherError) return err;
  if (typeof err === 'object' && err !== null && 'code' in err && isErrorCode(err.code)) {
    return new TetherError(err.code, err instanceof Error ? err.message : undefined);
  }
  return new TetherError('INTERNAL', err instanceof Error ? err.message : String(err));
}

function wireError(error: { code: string; message: string }): TetherError {
  return isErrorCode(error.code) ? new TetherError(error.code, error.message) : new TetherError('INTERNAL', `${error.code}: ${error.message}`);
}

/** What a download answers before its body. */
export type DownloadInfo = AgentResult<'file.download.open'> & { offset: number };

export interface DownloadOptions {
  /** Where to start (HTTP Range: bytes=N-). */
  offset?: number;
  /** The client reads trailers: the device may hash the file as it sends it. */
  hashLast?: boolean;
  /** The client's If-Range: the range holds only for this version of the file. */
  ifRange?: string;
}

/**
 * File transfer between HTTP clients and devices (ARCHITECTURE §5). Bytes go over a device stream
 * with the shell's credit scheme: an upload pauses the client's request while more than
 * FILE_WINDOW_HIGH_BYTES are unacknowledged by the agent (acked once written to disk); a download's
 * agent pauses likewise until the HTTP response has taken the bytes. Every transfer is audited
 * with its outcome.
 */
export class FileService {
  private readonly limits: FileLimits;
  /** `${deviceId}:${streamId}` → the transfer listening on it; events are looked up by the device that sent them. */
  private readonly byStream = new Map<string, StreamListener>();
  private readonly perDevice = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: FileServiceDeps) {
    this.limits = { ...DEFAULT_FILE_LIMITS, ...deps.limits };
    this.unsubscribe = deps.router.subscribe('*', (deviceId, name, data) => this.onDeviceEvent(deviceId, name, data));
  }

  /** Transfers in progress (for tests and /metrics). */
  get openCount(): number {
    return this.byStream.size;
  }

  async list(deviceId: string, path: string): Promise<FileListing> {
    return this.call(deviceId, 'file.list', { path }, this.limits.requestTimeoutMs);
  }

  async uploadStatus(deviceId: string, path: string, transferId: string): Promise<{ offset: number }> {
    return this.call(deviceId, 'file.upload.status', { path, transferId }, this.limits.requestTimeoutMs);
  }

  /**
   * Streams `body` (the file from `query.offset`) to the device and commits it there. The request
   * is paused whenever the agent has not yet written FILE_WINDOW_HIGH_BYTES of what was sent.
   */
  async upload(user: User, deviceId: string, query: UploadQuery, mode: number | undefined, body: IncomingMessage): Promise<FileResult> {
    const details = { path: query.path, size: query.size, sha256: query.sha256, offset: query.offset, transferId: query.transfer };
    if (query.sha256 === undefined && !headerListHas(body.headers.trailer, FILE_SHA256_HEADER)) {
      throw new TetherError('BAD_REQUEST', `The upload has no SHA-256: give it as the sha256 parameter, or as an ${FILE_SHA256_HEADER} trailer announced in the Trailer header`);
    }
    const release = this.claim(deviceId);
    let stream: DeviceStream | null = null;
    let failWith: (error: TetherError) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => (failWith = reject));
    failed.catch(() => undefined);
    let opened = false;
    let sent = 0;
    /** Set once the upload ended either way: bytes still arriving from the client are not sent on. */
    let over = false;
    try {
      stream = await this.deps.router.openStream(deviceId, { onData: () => undefined, onLinkClosed: () => failWith(new TetherError('DEVICE_OFFLINE')) });
      const window = new FlowWindow(FILE_WINDOW_HIGH_BYTES, FILE_WINDOW_LOW_BYTES);
      const key = `${deviceId}:${stream.id}`;
      // Armed once the device is ready (opening a resumed upload re-hashes its part file, which takes a while).
      let idle: NodeJS.Timeout | undefined;
      const touch = () => idle?.refresh();
      this.byStream.set(key, {
        written: (bytes) => {
          touch();
          if (window.acked(bytes)) body.resume();
        },
        failed: (error) => failWith(error),
      });
      try {
        const open = await Promise.race([
          this.call(deviceId, 'file.upload.open', {
            streamId: stream.id, path: query.path, transferId: query.transfer, offset: query.offset, size: query.size,
            ...(mode !== undefined ? { mode } : {}), ...(query.uid !== undefined ? { uid: query.uid } : {}), ...(query.gid !== undefined ? { gid: query.gid } : {}),
          }, this.limits.requestTimeoutMs),
          failed,
        ]);
        opened = true;
        idle = setTimeout(() => failWith(new TetherError('REQUEST_TIMEOUT', 'The upload stalled: no bytes from the client')), this.limits.idleMs);
        const expected = query.size - open.offset;
        const device = stream;
        const frames = new OutputCoalescer({
          maxBytes: FILE_FRAME_BYTES,
          emit: (data) => {
            if (!over && !device.send(data)) failWith(new TetherError('DEVICE_OFFLINE'));
          },
        });
        await Promise.race([
          failed,
          new Promise<void>((resolve, reject) => {
            if (body.destroyed && !body.complete) return reject(new TetherError('BAD_REQUEST', 'The client closed the upload before its end'));
            body.on('data', (chunk: Buffer) => {
              if (over) return;
              touch();
              sent += chunk.length;
              if (sent > expected) return reject(new TetherError('PAYLOAD_TOO_LARGE', `The body is longer than size - offset (${expected} bytes)`));
              frames.push(chunk);
              if (window.sent(chunk.length)) body.pause();
            });
            body.on('end', () => {
              frames.flush();
              resolve();
            });
            body.on('error', (err) => reject(new TetherError('BAD_REQUEST', `The upload was cut: ${err.message}`)));
            body.on('close', () => {
              if (!body.complete) reject(new TetherError('BAD_REQUEST', 'The client closed the upload before its end'));
            });
            body.resume();
          }),
        ]);
        clearTimeout(idle);
        const sha256 = query.sha256 ?? Sha256Hex.safeParse(body.trailers[FILE_SHA256_HEADER]).data;
        if (sha256 === undefined) throw new TetherError('BAD_REQUEST', `The upload's ${FILE_SHA256_HEADER} trailer is missing or not 64 lower-case hex digits`);
        const result = await Promise.race([
          this.call(deviceId, 'file.upload.commit', { streamId: stream.id, size: query.size, sha256 }, this.limits.commitTimeoutMs),
          failed,
        ]);
        opened = false;
        await this.record(user, 'file.upload', deviceId, { ...details, sha256: result.sha256, size: result.size }, 'completed');
        return result;
      } finally {
        clearTimeout(idle);
        this.byStream.delete(key);
      }
    } catch (err) {
      const error = deviceError(err);
      // The part file stays on the device for a resume, unless the device itself threw it away.
      const outcome: TransferOutcome = ['DEVICE_OFFLINE', 'BAD_REQUEST', 'REQUEST_TIMEOUT'].includes(error.code) ? 'interrupted' : 'failed';
      await this.record(user, 'file.upload', deviceId, { ...details, received: sent, code: error.code }, outcome);
      throw error;
    } finally {
      over = true;
      if (stream) {
        stream.close();
        if (opened) this.deps.router.request(deviceId, 'file.upload.close', { streamId: stream.id }).catch(() => undefined);
      }
      release();
    }
  }

  /**
   * Opens a download from `offset`: answers the file's size, mode and SHA-256 (the agent hashes it
   * first) and a body that relays the device's bytes, acknowledging them as the client takes them.
   * With `hashLast` (the client reads trailers) the SHA-256 may be missing from `info`: the agent
   * hashes the file as it sends it, and `sha256()` has it once `body` has ended.
   * With `ifRange` (the client's If-Range) that is not the file's etag any more, the device sends
   * the file whole: `info.offset` is then 0.
   */
  async download(user: User, deviceId: string, path: string, asked: DownloadOptions = {}): Promise<{ info: DownloadInfo; body: Readable; sha256(): string | undefined }> {
    const { hashLast = false, ifRange } = asked;
    let offset = asked.offset ?? 0;
    const release = this.claim(deviceId);
    let stream: DeviceStream | null = null;
    let key = '';
    let expected = Number.POSITIVE_INFINITY;
    let received = 0;
    let consumed = 0;
    let acked = 0;
    let ackTimer: NodeJS.Timeout | null = null;
    let ended = false;
    /**
     * The device's bytes that the response has not asked for yet, oldest first. They are handed to
     * `body` one read() at a time, so that what the response takes (and is acknowledged) is known
     * chunk by chunk, whatever `body` buffers.
     */
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    /** The response asked for more (read()) and nothing was handed to it since. */
    let wanted = false;
    let handedEnd = false;
    let info: DownloadInfo | null = null;
    /** The SHA-256 the agent sent after the last byte (hashLast). */
    let hashedLast: string | undefined;
    let settled = false;
    const finish = (outcome: TransferOutcome, code?: string): void => {
      if (settled) return;
      settled = true;
      if (ackTimer) clearTimeout(ackTimer);
      this.byStream.delete(key);
      stream?.close();
      if (outcome !== 'completed' && info && stream && code !== 'DEVICE_OFFLINE') {
        this.deps.router.request(deviceId, 'file.download.close', { streamId: stream.id }).catch(() => undefined);
      }
      release();
      void this.record(user, 'file.download', deviceId, { path, offset, size: info?.size ?? null, sha256: info?.sha256 ?? hashedLast ?? null, sent: consumed, ...(code ? { code } : {}) }, outcome).catch(() => undefined);
    };
    const ack = (): void => {
      if (ackTimer) clearTimeout(ackTimer);
      ackTimer = null;
      consumed = received - pendingBytes - body.readableLength;
      const due = consumed - acked;
      if (due <= 0 || !stream || settled) return;
      this.deps.router.publish([deviceId], 'file.ack', { streamId: stream.id, bytes: due });
      acked = consumed;
    };
    const maybeAck = (): void => {
      const due = received - pendingBytes - body.readableLength - acked;
      if (due >= FILE_ACK_BATCH_BYTES) ack();
      else if (due > 0) ackTimer ??= setTimeout(ack, FILE_ACK_DELAY_MS);
    };
    /**
     * Hands pending bytes to the response while it wants more (and the end once all are handed),
     * then acknowledges what it took. Pushing every frame as it arrived instead left the taking
     * unseen: a Readable asks again (read()) only once its buffer is nearly empty, so a window's
     * worth went unacknowledged until then, and the agent, paused at the window's high mark,
     * resumed only when the response was about to starve.
     */
    const hand = (): void => {
      while (wanted && pendingBytes > 0) {
        const chunk = pending.shift();
        if (!chunk) break;
        pendingBytes -= chunk.length;
        wanted = body.push(chunk);
      }
      if (ended && pendingBytes === 0 && !handedEnd) {
        handedEnd = true;
        body.push(null);
      }
      maybeAck();
    };
    const body = new Readable({
      highWaterMark: 64 * 1024,
      read: () => {
        wanted = true;
        hand();
      },
      destroy: (err, callback) => {
        finish(ended && received === expected && pendingBytes === 0 && body.readableLength === 0 ? 'completed' : 'interrupted', err instanceof TetherError ? err.code : undefined);
        callback(err);
      },
    });
    body.on('end', () => {
      consumed = received;
      finish('completed');
    });
    try {
      stream = await this.deps.router.openStream(deviceId, {
        onData: (data) => {
          if (settled) return;
          received += data.length;
          if (received > expected) return void body.destroy(new TetherError('INTERNAL', 'The device sent more than the file'));
          pending.push(data);
          pendingBytes += data.length;
          hand();
        },
        onLinkClosed: () => body.destroy(new TetherError('DEVICE_OFFLINE')),
      });
      key = `${deviceId}:${stream.id}`;
      this.byStream.set(key, {
        ended: (_bytes, error, sha256) => {
          if (error) return void body.destroy(error);
          ended = true;
          if (received !== expected) return void body.destroy(new TetherError('INTERNAL', `The device sent ${received} of ${expected} bytes`));
          hashedLast = sha256;
          if (info?.sha256 === undefined && hashedLast === undefined) return void body.destroy(new TetherError('INTERNAL', 'The device sent no SHA-256 of the file'));
          hand();
        },
      });
      const opened = await this.call(deviceId, 'file.download.open', { streamId: stream.id, path, offset, ...(hashLast ? { hashLast } : {}), ...(ifRange === undefined ? {} : { ifRange }) }, this.limits.downloadOpenTimeoutMs);
      // An agent before etags answers no offset: it sent from the one asked.
      offset = opened.offset ?? offset;
      info = { ...opened, offset };
      expected = opened.size - offset;
      if (received > expected) throw new TetherError('INTERNAL', 'The device sent more than the file');
      return { info, body, sha256: () => info?.sha256 ?? hashedLast };
    } catch (err) {
      const error = deviceError(err);
      if (!settled) {
        settled = true;
        this.byStream.delete(key);
        stream?.close();
        release();
        await this.record(user, 'file.download', deviceId, { path, offset, code: error.code }, 'failed');
      }
      throw error;
    }
  }

  close(): void {
    this.unsubscribe();
  }

  private async call<M extends AgentMethod>(deviceId: string, method: M, params: unknown, timeoutMs: number): Promise<AgentResult<M>> {
    let answer: unknown;
    try {
      answer = await this.deps.router.request(deviceId, method, params, timeoutMs);
    } catch (err) {
      throw deviceError(err);
    }
    const parsed = AGENT_METHODS[method].result.safeParse(answer);
    if (!parsed.success) throw new TetherError('MESSAGE_MALFORMED', `The device's answer to ${method} is malformed`);
    return parsed.data as AgentResult<M>;
  }

  /** One more transfer on this device, within the bound; the release is idempotent. */
  private claim(deviceId: string): () => void {
    const now = this.perDevice.get(deviceId) ?? 0;
    if (now >= this.limits.maxPerDevice) throw new TetherError('RATE_LIMITED', 'Too many file transfers on this device');
    this.perDevice.set(deviceId, now + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.perDevice.get(deviceId) ?? 1) - 1;
      if (left <= 0) this.perDevice.delete(deviceId);
      else this.perDevice.set(deviceId, left);
    };
  }

  private onDeviceEvent(deviceId: string, name: string, data: unknown): void {
    const listener = (streamId: number) => this.byStream.get(`${deviceId}:${streamId}`);
    switch (name) {
      case 'file.written': {
        const event = FILE_AGENT_EVENTS['file.written'].safeParse(data);
        if (event.success) listener(event.data.streamId)?.written?.(event.data.bytes);
        return;
      }
      case 'file.failed': {
        const event = FILE_AGENT_EVENTS['file.failed'].safeParse(data);
        if (event.success) listener(event.data.streamId)?.failed?.(wireError(event.data.error));
        return;
      }
      case 'file.download.end': {
        const event = FILE_AGENT_EVENTS['file.download.end'].safeParse(data);
        if (event.success) listener(event.data.streamId)?.ended?.(event.data.bytes, event.data.error ? wireError(event.data.error) : null, event.data.sha256);
        return;
      }
      default:
    }
  }

  private record(user: User, action: 'file.upload' | 'file.download', deviceId: string, details: Record<string, unknown>, outcome: TransferOutcome): Promise<void> {
    this.deps.log.info({ action, deviceId, user: user.username, outcome, ...details }, 'file transfer');
    return this.deps.audit.record(`user:${user.username}`, action, deviceId, { ...details, outcome }).catch((err: unknown) => {
      this.deps.log.error({ err, action, deviceId }, 'could not audit a file transfer');
    });
  }
}
