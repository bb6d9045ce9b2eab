import { randomBytes, type KeyObject } from 'node:crypto';
import { CONTROL_MESSAGE_TYPES, ControlMessage } from '../protocol/control.js';
import { ERRORS, missingCase, TetherError, type ErrorCode } from '../protocol/errors.js';
import {
  decodePayload,
  encodeControlPayload,
  FRAME_OVERHEAD,
  openFrame,
  readFrameHeader,
  sealFrame,
  STREAM_PAYLOAD_OVERHEAD,
  streamPayloadPrefix,
} from './frame.js';
import type { Established } from './handshake.js';
import { deriveSessionKeys, generateEphemeral, NONCE_BYTES, rekeySalt, x25519Shared, type SessionKeys } from './keys.js';
import { ReplayWindow } from './replay-window.js';

/** Where sealed frames go: a WebSocket in production (binary messages), a pipe in tests. */
export interface SessionTransport {
  send(frame: Buffer): void;
  close(code: number, reason: string): void;
}

export interface SecureSessionOptions {
  /** client = agent: sends with c2s keys and initiates rekeys. */
  role: 'client' | 'server';
  established: Established;
  transport: SessionTransport;
  /** Every control message except ping/pong/rekey/rekey_ack, which the session handles itself. */
  onMessage(msg: ControlMessage): void;
  onStream?(streamId: number, data: Buffer): void;
  /** Called exactly once: null after a normal close, else the reason. */
  onClose(error: TetherError | null): void;
  /** After this side switched to a new epoch (for logs and metrics). */
  onRekey?(epoch: number): void;
  /** Frames sent + received in one epoch before the client rekeys. */
  rekeyAfterFrames?: number;
  /** Age of an epoch before the client rekeys. */
  rekeyAfterMs?: number;
  /** tick() sends a ping when nothing was sent for this long. */
  heartbeatMs?: number;
  /** tick() closes with HEARTBEAT_TIMEOUT when nothing was received for this long. */
  silenceMs?: number;
  /** Largest sealed frame, both directions. */
  maxFrameBytes?: number;
  /**
   * Server: rekeys accepted per rolling minute before closing with RATE_LIMITED_CHANNEL. Each
   * rekey costs an X25519 key pair, a DH and HKDF; an honest client rekeys every 15 minutes or
   * 2^20 frames, so a client rekeying in a loop is burning the backend's CPU.
   */
  maxRekeysPerMinute?: number;
  now?: () => number;
}

export const DEFAULT_REKEY_AFTER_FRAMES = 2 ** 20;
export const DEFAULT_REKEY_AFTER_MS = 15 * 60_000;
export const DEFAULT_HEARTBEAT_MS = 30_000;
export const DEFAULT_SILENCE_MS = 90_000;
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
export const DEFAULT_MAX_REKEYS_PER_MINUTE = 10;
const REKEY_WINDOW_MS = 60_000;
/** WebSocket close code of a normal close(). */
export const NORMAL_CLOSE_CODE = 1000;

const MAX_EPOCH = 0xffffffff;
const KNOWN_TYPES: ReadonlySet<string> = new Set(CONTROL_MESSAGE_TYPES);

interface DirectionKey {
  epoch: number;
  key: Buffer;
  iv: Buffer;
}

interface PendingRekey {
  privateKey: KeyObject;
  publicRaw: Buffer;
  nonce: Buffer;
  sentAt: number;
}

/**
 * JSON → ControlMessage. MESSAGE_MALFORMED for bad JSON or shape; MESSAGE_UNKNOWN_TYPE for a type
 * this version does not know, decided before the schema so a newer peer gets a precise answer.
 */
export function parseControlMessage(json: string): ControlMessage {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (cause) {
    throw new TetherError('MESSAGE_MALFORMED', undefined, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('type' in value) || typeof value.type !== 'string') {
    throw new TetherError('MESSAGE_MALFORMED');
  }
  if (!KNOWN_TYPES.has(value.type)) throw new TetherError('MESSAGE_UNKNOWN_TYPE');
  const parsed = ControlMessage.safeParse(value);
  if (!parsed.success) throw new TetherError('MESSAGE_MALFORMED', undefined, { cause: parsed.error });
  return parsed.data;
}

/**
 * One established control channel: seals and opens frames, enforces the replay rule, answers
 * pings, and rotates keys (ARCHITECTURE §3).
 *
 * Rekey: the client sends `rekey` in epoch E; the server answers `rekey_ack` in E and from then
 * on sends in E+1, still accepting E from the client until the first E+1 frame arrives; the
 * client switches both directions when it reads the ack. The transport must be ordered.
 *
 * Timers are the owner's: call tick() from one shared interval.
 */
export class SecureSession {
  private readonly opts: SecureSessionOptions;
  private readonly rekeyAfterFrames: number;
  private readonly rekeyAfterMs: number;
  private readonly heartbeatMs: number;
  private readonly silenceMs: number;
  private readonly maxFrameBytes: number;
  private readonly maxRekeysPerMinute: number;
  private readonly now: () => number;
  /** Server: when the recent rekeys arrived, oldest first, for the per-minute bound. */
  private readonly rekeyTimes: number[] = [];

  private salt: Buffer;
  private sendKey: DirectionKey;
  private sendCounter = 0n;
  private recvKey: DirectionKey;
  /** Server only, between sending rekey_ack and the client's first frame of the new epoch. */
  private nextRecvKey: DirectionKey | null = null;
  private readonly replay = new ReplayWindow();
  private pendingRekey: PendingRekey | null = null;
  private framesInEpoch = 0;
  private epochStartedAt: number;
  private lastSentAt: number;
  private lastReceivedAt: number;
  private isClosed = false;

  constructor(opts: SecureSessionOptions) {
    this.opts = opts;
    this.rekeyAfterFrames = opts.rekeyAfterFrames ?? DEFAULT_REKEY_AFTER_FRAMES;
    this.rekeyAfterMs = opts.rekeyAfterMs ?? DEFAULT_REKEY_AFTER_MS;
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.silenceMs = opts.silenceMs ?? DEFAULT_SILENCE_MS;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxRekeysPerMinute = opts.maxRekeysPerMinute ?? DEFAULT_MAX_REKEYS_PER_MINUTE;
    this.now = opts.now ?? Date.now;
    if (this.rekeyAfterFrames < 1 || this.maxFrameBytes <= FRAME_OVERHEAD + STREAM_PAYLOAD_OVERHEAD) {
      throw new RangeError('rekeyAfterFrames must be positive and maxFrameBytes hold a frame');
    }
    this.salt = opts.established.salt;
    const { send, recv } = this.directions(opts.established.keys);
    this.sendKey = send;
    this.recvKey = recv;
    const now = this.now();
    this.epochStartedAt = now;
    this.lastSentAt = now;
    this.lastReceivedAt = now;
  }

  /** The epoch this side currently sends in. */
  get epoch(): number {
    return this.sendKey.epoch;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Largest `data` one sendStream() call takes; callers chunk longer output. */
  get maxStreamChunkBytes(): number {
    return this.maxFrameBytes - FRAME_OVERHEAD - STREAM_PAYLOAD_OVERHEAD;
  }

  /**
   * Seals and sends a control message. Returns false (and sends nothing) once closed, like a
   * closed socket. Throws, without closing, FRAME_TOO_LARGE when the message exceeds
   * maxFrameBytes and MESSAGE_MALFORMED when it breaks the schema (the peer would drop the channel).
   */
  send(msg: ControlMessage): boolean {
    if (this.isClosed) return false;
    const parsed = ControlMessage.safeParse(msg);
    if (!parsed.success) throw new TetherError('MESSAGE_MALFORMED', undefined, { cause: parsed.error });
    return this.sendPlaintext(encodeControlPayload(JSON.stringify(parsed.data)));
  }

  /** Sends raw stream bytes (PTY, command output) tagged with a u32 stream id. Same contract as send(). */
  sendStream(streamId: number, data: Uint8Array): boolean {
    return this.sendPlaintext([streamPayloadPrefix(streamId), data]);
  }

  /**
   * Handles one sealed frame from the peer. Never throws: every bad frame closes the transport
   * with ERRORS[code].close and the code as reason, then calls onClose(error).
   */
  receive(frame: Buffer): void {
    if (this.isClosed) return;
    try {
      this.receiveFrame(frame);
    } catch (err) {
      this.fail(err);
    }
  }

  /** Heartbeat, silence and time-based rekey; drive it from one interval shared by all sessions. */
  tick(now: number = this.now()): void {
    if (this.isClosed) return;
    try {
      if (now - this.lastReceivedAt >= this.silenceMs) throw new TetherError('HEARTBEAT_TIMEOUT');
      // A server that stays alive but never acks would otherwise keep us on one key forever.
      if (this.pendingRekey !== null && now - this.pendingRekey.sentAt >= this.silenceMs) throw new TetherError('REKEY_FAILED');
      this.maybeRekey(now);
      if (now - this.lastSentAt >= this.heartbeatMs) this.send({ type: 'ping', ts: now });
    } catch (err) {
      this.fail(err);
    }
  }

  /** Closes the transport: normally (1000, onClose(null)) without a code, else with ERRORS[code] and onClose(error). */
  close(code?: ErrorCode): void {
    if (code === undefined) this.finish(null, NORMAL_CLOSE_CODE, '', true);
    else this.finish(new TetherError(code), ERRORS[code].close, code, true);
  }

  /** The owner reports that the socket closed underneath: onClose(error) without closing it again. */
  transportClosed(error: TetherError | null = null): void {
    this.finish(error, 0, '', false);
  }

  private directions(keys: SessionKeys): { send: DirectionKey; recv: DirectionKey } {
    const c2s = { epoch: keys.epoch, key: keys.c2sKey, iv: keys.c2sIv };
    const s2c = { epoch: keys.epoch, key: keys.s2cKey, iv: keys.s2cIv };
    return this.opts.role === 'client' ? { send: c2s, recv: s2c } : { send: s2c, recv: c2s };
  }

  private sendPlaintext(plaintext: Buffer | readonly Uint8Array[]): boolean {
    if (this.isClosed) return false;
    this.opts.transport.send(this.seal(plaintext));
    this.maybeRekey(this.now());
    return true;
  }

  /** Seals with the current send key and consumes its counter; the caller transmits. */
  private seal(plaintext: Buffer | readonly Uint8Array[]): Buffer {
    const length = plaintext instanceof Uint8Array ? plaintext.length : plaintext.reduce((sum, part) => sum + part.length, 0);
    if (length + FRAME_OVERHEAD > this.maxFrameBytes) throw new TetherError('FRAME_TOO_LARGE');
    const frame = sealFrame(this.sendKey.key, this.sendKey.iv, this.sendKey.epoch, this.sendCounter, plaintext);
    this.sendCounter++;
    this.framesInEpoch++;
    this.lastSentAt = this.now();
    return frame;
  }

  private receiveFrame(frame: Buffer): void {
    if (frame.length > this.maxFrameBytes) throw new TetherError('FRAME_TOO_LARGE');
    const { epoch, counter } = readFrameHeader(frame);
    // Cheap refusal before decrypting; the window only moves after authentication.
    this.replay.check(epoch, counter);
    const next = this.nextRecvKey;
    const dir = epoch === this.recvKey.epoch ? this.recvKey : next !== null && epoch === next.epoch ? next : null;
    if (dir === null) throw new TetherError('FRAME_AUTH_FAILED');
    const { plaintext } = openFrame(dir.key, dir.iv, frame);
    this.replay.accept(epoch, counter);
    if (dir === next) {
      this.recvKey = next;
      this.nextRecvKey = null;
    }
    const now = this.now();
    this.lastReceivedAt = now;
    this.framesInEpoch++;

    const payload = decodePayload(plaintext);
    if (payload.kind === 'stream') this.opts.onStream?.(payload.streamId, payload.data);
    else this.handleControl(parseControlMessage(payload.json), now);
    if (!this.isClosed) this.maybeRekey(now);
  }

  private handleControl(msg: ControlMessage, now: number): void {
    switch (msg.type) {
      case 'ping':
        this.send({ type: 'pong', ts: msg.ts });
        return;
      case 'pong':
        return;
      case 'rekey':
        this.onRekey(msg, now);
        return;
      case 'rekey_ack':
        this.onRekeyAck(msg, now);
        return;
      case 'welcome':
      case 'req':
      case 'res':
      case 'evt':
        this.opts.onMessage(msg);
        return;
      default:
        missingCase(msg);
    }
  }

  /** Client: start a rotation when the epoch is old or has carried enough frames. */
  private maybeRekey(now: number): void {
    if (this.opts.role !== 'client' || this.pendingRekey !== null || this.isClosed) return;
    if (this.framesInEpoch < this.rekeyAfterFrames && now - this.epochStartedAt < this.rekeyAfterMs) return;
    const { privateKey, publicRaw } = generateEphemeral();
    const nonce = randomBytes(NONCE_BYTES);
    // Set before transmitting: a synchronous transport may deliver the ack inside send().
    this.pendingRekey = { privateKey, publicRaw, nonce, sentAt: now };
    const msg: ControlMessage = { type: 'rekey', ephemeral: publicRaw.toString('base64'), nonce: nonce.toString('base64') };
    this.opts.transport.send(this.seal(encodeControlPayload(JSON.stringify(msg))));
  }

  /** Server: answer in the current epoch, then send in the next one. */
  private onRekey(msg: Extract<ControlMessage, { type: 'rekey' }>, now: number): void {
    // A second rekey before the client has used the first one's epoch is out of order.
    if (this.opts.role !== 'server' || this.nextRecvKey !== null) throw new TetherError('REKEY_FAILED');
    while (this.rekeyTimes.length > 0 && now - (this.rekeyTimes[0] ?? now) >= REKEY_WINDOW_MS) this.rekeyTimes.shift();
    if (this.rekeyTimes.length >= this.maxRekeysPerMinute) throw new TetherError('RATE_LIMITED_CHANNEL', 'Too many key rotations');
    this.rekeyTimes.push(now);
    const clientEphemeral = Buffer.from(msg.ephemeral, 'base64');
    const clientNonce = Buffer.from(msg.nonce, 'base64');
    const { privateKey, publicRaw } = generateEphemeral();
    const nonce = randomBytes(NONCE_BYTES);
    const next = this.nextEpoch(privateKey, clientEphemeral, clientEphemeral, clientNonce, publicRaw, nonce);
    const ack: ControlMessage = { type: 'rekey_ack', ephemeral: publicRaw.toString('base64'), nonce: nonce.toString('base64') };
    const frame = this.seal(encodeControlPayload(JSON.stringify(ack)));
    // Switch before transmitting, so even a synchronous transport sees the new keys in place.
    const { send, recv } = this.directions(next.keys);
    this.enterEpoch(send, next.salt, now);
    this.nextRecvKey = recv;
    this.opts.transport.send(frame);
    this.opts.onRekey?.(this.epoch);
  }

  /** Client: the ack is the server's last frame of the old epoch; switch both directions. */
  private onRekeyAck(msg: Extract<ControlMessage, { type: 'rekey_ack' }>, now: number): void {
    const pending = this.pendingRekey;
    if (this.opts.role !== 'client' || pending === null) throw new TetherError('REKEY_FAILED');
    this.pendingRekey = null;
    const serverEphemeral = Buffer.from(msg.ephemeral, 'base64');
    const next = this.nextEpoch(
      pending.privateKey,
      serverEphemeral,
      pending.publicRaw,
      pending.nonce,
      serverEphemeral,
      Buffer.from(msg.nonce, 'base64'),
    );
    const { send, recv } = this.directions(next.keys);
    this.enterEpoch(send, next.salt, now);
    this.recvKey = recv;
    this.opts.onRekey?.(this.epoch);
  }

  private nextEpoch(
    ownPrivate: KeyObject,
    peerEphemeral: Buffer,
    clientEphemeral: Buffer,
    clientNonce: Buffer,
    serverEphemeral: Buffer,
    serverNonce: Buffer,
  ): { keys: SessionKeys; salt: Buffer } {
    const epoch = this.sendKey.epoch;
    if (epoch >= MAX_EPOCH) throw new TetherError('REKEY_FAILED');
    let shared: Buffer;
    try {
      shared = x25519Shared(ownPrivate, peerEphemeral);
    } catch (cause) {
      throw new TetherError('REKEY_FAILED', undefined, { cause });
    }
    const salt = rekeySalt(this.salt, epoch, clientEphemeral, clientNonce, serverEphemeral, serverNonce);
    return { keys: deriveSessionKeys(shared, salt, epoch + 1), salt };
  }

  private enterEpoch(send: DirectionKey, salt: Buffer, now: number): void {
    this.sendKey = send;
    this.sendCounter = 0n;
    this.salt = salt;
    this.framesInEpoch = 0;
    this.epochStartedAt = now;
  }

  private fail(err: unknown): void {
    const error = err instanceof TetherError ? err : new TetherError('INTERNAL', undefined, { cause: err });
    this.finish(error, error.closeCode, error.code, true);
  }

  private finish(error: TetherError | null, code: number, reason: string, closeTransport: boolean): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.pendingRekey = null;
    this.nextRecvKey = null;
    if (closeTransport) {
      try {
        this.opts.transport.close(code, reason);
      } catch {
        // The socket is already gone; the owner still hears about the close below.
      }
    }
    this.opts.onClose(error);
  }
}
