import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import {
  ERRORS,
  SHELL_ACK_BATCH_BYTES,
  SHELL_ACK_DELAY_MS,
  SHELL_AGENT_EVENTS,
  SHELL_CLOSE_DELIBERATE,
  ShellClientMessage,
  TetherError,
  missingCase,
  type ErrorCode,
  type ShellServerMessage,
  type ShellSessionInfo,
  type ShellSocketQuery,
  type User,
} from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { closeWith, parseJsonMessage, sendJson as sendAnyJson, toBuffer } from '../http/ws-messages.js';
import type { DeviceRouter } from '../devices/device-router.js';
import type { DeviceStream, StreamHandlers } from '../devices/link-streams.js';
import { trimFront } from '../../channel/chunk-queue.js';
import { relink } from '../devices/relink.js';
import { AsciicastRecorder, DEFAULT_MAX_RECORDING_BYTES } from './asciicast-recorder.js';
import type { Stores } from '../store/stores.js';

/** This socket's server messages, typed. */
const sendJson: (ws: WebSocket, msg: ShellServerMessage) => void = sendAnyJson;

export interface ShellLimits {
  /** A console may reconnect to its session this long after its socket dropped. */
  graceMs: number;
  /** No input for this long ends the session. */
  idleMs: number;
  maxPerDevice: number;
  maxPerUser: number;
  /**
   * Output buffered for a console beyond the agent's flow-control window means the agent
   * ignores acks; the session is ended rather than buffered without bound.
   */
  maxPendingBytes: number;
  maxRecordingBytes: number;
  recordingRetentionMs: number;
  openTimeoutMs: number;
  /**
   * How long a session whose device link dropped waits for the device to come back (through any
   * node) and reattach its PTY, which the agent keeps for longer (DEFAULT_DETACHED_GRACE_MS).
   */
  relinkMs: number;
}

export const DEFAULT_SHELL_LIMITS: ShellLimits = {
  graceMs: 60_000,
  idleMs: 30 * 60_000,
  maxPerDevice: 8,
  maxPerUser: 16,
  maxPendingBytes: 1024 * 1024,
  maxRecordingBytes: DEFAULT_MAX_RECORDING_BYTES,
  recordingRetentionMs: 30 * 24 * 3600_000,
  openTimeoutMs: 10_000,
  relinkMs: 45_000,
};


export interface ShellServiceDeps {
  router: DeviceRouter;
  stores: Stores;
  audit: AuditLog;
  recordingsDir: string;
  log: Logger;
  limits?: Partial<ShellLimits>;
  now?: () => number;
  /** This process in a cluster (its node instance), recorded on what it runs so the leader can end it should the process die. */
  owner?: string;
  /**
   * Whether sessions the store still has open are ended at start (default true: they were the
   * previous process's). A node joining a live cluster passes false: they are other nodes'.
   */
  endOrphans?: boolean;
  /** This process took over a session another cluster node had (its console reconnected here): that node lets it go. */
  onAdopted?: (sessionId: string) => void;
}

/** The stream of a session taken over from another node until its PTY is reattached here. */
const NO_STREAM: DeviceStream = { id: 0, send: () => false, close: () => undefined };
/** Keystrokes held while a session waits to reattach its PTY, sent once it is back; typing past this is dropped. */
export const MAX_HELD_INPUT_BYTES = 64 * 1024;

/** Largest console frame: input is typed or pasted, never bulk. */
export const SHELL_SOCKET_MAX_PAYLOAD = 64 * 1024;

class Session {
  ws: WebSocket | null = null;
  /** Sent to the console, not yet acknowledged by it: resent after a reconnect. */
  readonly pending: Buffer[] = [];
  pendingBytes = 0;
  maxPendingBytes = 0;
  outputBytes = 0;
  graceTimer: NodeJS.Timeout | null = null;
  idleTimer: NodeJS.Timeout | null = null;
  /** Console acks not yet passed to the agent: coalesced, so a flood does not cost an event per frame. */
  ackDue = 0;
  ackTimer: NodeJS.Timeout | null = null;
  ended = false;
  /** The session's row and its shell.open audit entry, written when it opened. */
  recorded: Promise<void> = Promise.resolve();
  /** Set while the device's link is gone and the session waits to reattach its PTY. */
  relinking = false;
  /** The stream of a reattach in flight was lost too (its link closed before the answer): try again. */
  lostWhileRelinking = false;
  /** Console input that could not go to the device (its link was down), in order: sent after the reattach. */
  readonly heldInput: Buffer[] = [];
  heldInputBytes = 0;
  /** Console input dropped during this relink (past MAX_HELD_INPUT_BYTES): told to the console when the device is back. */
  droppedInputBytes = 0;
  /** The console was told the device is away (so it is told when it is back). */
  toldAway = false;

  constructor(
    readonly id: string,
    readonly deviceId: string,
    readonly user: User,
    /** The PTY's stream on the device's current link; replaced when the session reattaches through a new link. */
    public stream: DeviceStream,
    readonly recorder: AsciicastRecorder,
  ) {}
}

/**
 * Interactive sessions: opens PTYs on devices, relays bytes between a console WebSocket and the
 * device stream, relays flow-control acks, records every session as asciicast, ends a session
 * the console closes on purpose (SHELL_CLOSE_DELIBERATE) and keeps one alive for a grace
 * period when the console's socket drops.
 */
export class ShellService {
  private readonly limits: ShellLimits;
  private readonly sessions = new Map<string, Session>();
  /** `${deviceId}:${streamId}`: exit events are looked up by the device that sent them. */
  private readonly byStream = new Map<string, Session>();
  private readonly unsubscribe: () => void;
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;
  /** Session ends being written, so close() can wait for them before the store closes. */
  private readonly ending = new Set<Promise<void>>();
  /** Settles once sessions left open by the previous process are marked ended. */
  readonly ready: Promise<void>;

  constructor(private readonly deps: ShellServiceDeps) {
    this.limits = { ...DEFAULT_SHELL_LIMITS, ...deps.limits };
    this.now = deps.now ?? Date.now;
    mkdirSync(deps.recordingsDir, { recursive: true, mode: 0o700 });
    const orphans = deps.endOrphans === false ? Promise.resolve() : deps.stores.shellSessions.endOrphans(this.now()).then(() => undefined);
    this.ready = orphans.then(() => this.sweepRecordings());
    this.unsubscribe = deps.router.subscribe('*', (deviceId, name, data) => {
      if (name !== 'shell.exit') return;
      const exit = SHELL_AGENT_EVENTS['shell.exit'].safeParse(data);
      if (!exit.success) return;
      const session = this.byStream.get(`${deviceId}:${exit.data.streamId}`);
      if (session) this.end(session, exit.data.exitCode, null);
    });
    this.sweeper = setInterval(() => {
      this.sweepRecordings().catch((err: unknown) => this.deps.log.warn({ err }, 'recording retention failed'));
    }, 3600_000);
    this.sweeper.unref();
  }

  /** Sessions whose PTY is open, attached or within the resume grace period (for /metrics). */
  get openCount(): number {
    return this.sessions.size;
  }

  /** For benchmarks and tests: the most output ever waiting on a console's ack, per live session. */
  stats(id: string): { pendingBytes: number; maxPendingBytes: number } | null {
    const s = this.sessions.get(id);
    return s ? { pendingBytes: s.pendingBytes, maxPendingBytes: s.maxPendingBytes } : null;
  }

  /** Ends every terminal of a user whose sessions ended (logout everywhere, role or password change, deletion). */
  endUser(userId: number): void {
    for (const session of [...this.sessions.values()]) if (session.user.id === userId) this.end(session, null, 'SESSION_INVALID');
  }

  /** Session history, newest first, live sessions marked with their flow-control figures. */
  async list(filter: { deviceId?: string; limit: number }): Promise<ShellSessionInfo[]> {
    const records = await this.deps.stores.shellSessions.list(filter);
    return records.map((r) => {
      const live = this.stats(r.id);
      return {
        id: r.id, deviceId: r.deviceId, username: r.username, startedAt: r.startedAt, endedAt: r.endedAt, exitCode: r.exitCode,
        endCode: r.endCode, outputBytes: r.outputBytes, live: live !== null, maxPendingBytes: live?.maxPendingBytes ?? null, hasRecording: r.recording !== null,
      };
    });
  }

  /**
   * A session's recording for download, audited as downloaded by `actor`. `visible` says whether
   * the user may see the session's device; a session they may not see does not exist for them.
   */
  async recording(sessionId: string, actor: string, visible: (deviceId: string) => boolean): Promise<{ sessionId: string; path: string }> {
    const session = await this.deps.stores.shellSessions.find(sessionId);
    if (!session || !visible(session.deviceId)) throw new TetherError('NOT_FOUND', 'No such shell session');
    const path = session.recording ? join(this.deps.recordingsDir, session.recording) : null;
    if (!path || !existsSync(path)) throw new TetherError('NOT_FOUND', 'The recording has expired');
    await this.deps.audit.record(actor, 'shell.recording.download', session.deviceId, { sessionId: session.id });
    return { sessionId: session.id, path };
  }

  /** Upgrade-time checks, so a refused terminal gets an HTTP answer with a stable code. */
  async check(user: User, query: ShellSocketQuery): Promise<void> {
    if ('sessionId' in query) {
      const session = this.sessions.get(query.sessionId);
      if (session) {
        if (session.user.id !== user.id) throw new TetherError('FORBIDDEN', 'Another user\'s session');
        return;
      }
      // Not here: another cluster node's, which this one can take over if the console says where it is.
      const row = query.offset === undefined ? undefined : await this.deps.stores.shellSessions.find(query.sessionId);
      if (!row || row.endedAt !== null) throw new TetherError('SHELL_ENDED');
      if (row.username !== user.username) throw new TetherError('FORBIDDEN', 'Another user\'s session');
      return;
    }
    if (!this.deps.router.isConnected(query.deviceId)) throw new TetherError('DEVICE_OFFLINE');
    const live = [...this.sessions.values()];
    if (live.filter((s) => s.deviceId === query.deviceId).length >= this.limits.maxPerDevice) throw new TetherError('SHELL_LIMIT', 'Too many sessions on this device');
    if (live.filter((s) => s.user.id === user.id).length >= this.limits.maxPerUser) throw new TetherError('SHELL_LIMIT', 'Too many sessions for this user');
  }

  /** Takes a console's shell socket: opens a new session or reattaches to a live one. */
  accept(ws: WebSocket, user: User, query: ShellSocketQuery): void {
    ws.on('error', (err) => this.deps.log.debug({ err }, 'shell socket error'));
    if ('sessionId' in query) {
      const session = this.sessions.get(query.sessionId);
      if (session) {
        if (session.user.id !== user.id) return closeWith(ws, 'FORBIDDEN');
        this.attach(session, ws, true);
      } else if (query.offset !== undefined) {
        this.adopt(ws, user, query.sessionId, query.offset).catch((err: unknown) => {
          this.deps.log.warn({ err, sessionId: query.sessionId }, 'shell session not taken over');
          closeWith(ws, err instanceof TetherError ? err.code : 'INTERNAL');
        });
      } else closeWith(ws, 'SHELL_ENDED');
      return;
    }
    // Input typed before the PTY exists has nowhere to go; the console waits for `opened`.
    let closedEarly: number | null = null;
    ws.once('close', (code: number) => (closedEarly = code));
    this.open(user, query.deviceId, query.cols, query.rows).then(
      (session) => {
        if (closedEarly === SHELL_CLOSE_DELIBERATE) this.end(session, null, 'SHELL_CLOSED');
        else if (closedEarly !== null) this.detach(session, ws);
        else this.attach(session, ws, false);
      },
      (err: unknown) => {
        const code: ErrorCode = err instanceof TetherError ? err.code : typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' && err.code in ERRORS ? (err.code as ErrorCode) : 'INTERNAL';
        this.deps.log.info({ deviceId: query.deviceId, code }, 'shell open failed');
        sendJson(ws, { type: 'ended', exitCode: null, code });
        closeWith(ws, code);
      },
    );
  }

  /**
   * Takes over a session another cluster node had: its console reconnected here (that node died,
   * or a load balancer sent the reconnect here). The stored session is claimed for this process
   * (the other node lets it go on `onAdopted`), then the agent's PTY is reattached as after a
   * dropped link, resending from `offset`, the output the console has.
   */
  private async adopt(ws: WebSocket, user: User, id: string, offset: number): Promise<void> {
    const { stores } = this.deps;
    const row = await stores.shellSessions.find(id);
    if (!row || row.endedAt !== null) throw new TetherError('SHELL_ENDED');
    if (row.username !== user.username) throw new TetherError('FORBIDDEN', 'Another user\'s session');
    if (!(await stores.shellSessions.adopt(id, this.deps.owner ?? null))) throw new TetherError('SHELL_ENDED');
    this.deps.onAdopted?.(id);
    const existing = this.sessions.get(id);
    if (existing) {
      // Two reconnects at once: the first one took it.
      this.attach(existing, ws, true);
      return;
    }
    const recorder = new AsciicastRecorder(join(this.deps.recordingsDir, row.recording ?? `${id}.cast`), { cols: 80, rows: 24, startedAt: row.startedAt, title: `${user.username}@${row.deviceId}`, continued: true }, this.limits.maxRecordingBytes, this.now);
    const session = new Session(id, row.deviceId, user, NO_STREAM, recorder);
    session.outputBytes = offset;
    this.sessions.set(id, session);
    this.deps.log.info({ sessionId: id, deviceId: row.deviceId, offset }, 'shell session taken over from another node');
    this.attach(session, ws, true);
    this.touch(session);
    // The device's link is up, at another node: nothing to tell the console.
    this.relink(session, false);
  }

  /** Another cluster node took this session over: let it go without ending it (the PTY and the stored session go on there). */
  release(sessionId: string): void {
    const session = this.sessions.get(sessionId);
    if (!session || session.ended) return;
    this.stopRelaying(session);
    this.sessions.delete(sessionId);
    const ws = session.ws;
    session.ws = null;
    if (ws) closeWith(ws, 'DEVICE_SUPERSEDED');
    this.deps.log.info({ sessionId }, 'shell session taken over by another node');
  }

  private async open(user: User, deviceId: string, cols: number, rows: number): Promise<Session> {
    const { router, stores, audit, recordingsDir } = this.deps;
    await this.ready;
    const id = randomUUID();
    let session: Session | null = null;
    const early: Buffer[] = [];
    const stream = await router.openStream(deviceId, this.streamHandlers(() => session, early));
    try {
      await router.request(deviceId, 'shell.open', { streamId: stream.id, cols, rows, sessionId: id }, this.limits.openTimeoutMs);
    } catch (err) {
      stream.close();
      throw err;
    }
    const startedAt = this.now();
    const file = `${id}.cast`;
    const recorder = new AsciicastRecorder(join(recordingsDir, file), { cols, rows, startedAt, title: `${user.username}@${deviceId}` }, this.limits.maxRecordingBytes, this.now);
    session = new Session(id, deviceId, user, stream, recorder);
    this.sessions.set(id, session);
    this.byStream.set(`${deviceId}:${stream.id}`, session);
    for (const data of early.splice(0)) this.output(session, data);
    // Recorded before the console hears `opened`: a session that cannot be recorded is not offered.
    session.recorded = stores.transaction(async (tx) => {
      await tx.shellSessions.insert({ id, deviceId, username: user.username, startedAt, recording: file, owner: this.deps.owner });
      await audit.record(`user:${user.username}`, 'shell.open', deviceId, { sessionId: id, cols, rows }, tx);
    });
    try {
      await session.recorded;
    } catch (err) {
      this.end(session, null, 'STORE_UNAVAILABLE');
      throw err;
    }
    this.deps.log.info({ sessionId: id, deviceId, user: user.username }, 'shell session opened');
    if (!session.ended) this.touch(session);
    return session;
  }

  /** A stream's handlers: output to the session (held in `early` until it exists); a lost link starts a relink. */
  private streamHandlers(session: () => Session | null, early: Buffer[] = []): StreamHandlers {
    return {
      onData: (data) => {
        const current = session();
        if (current) this.output(current, data);
        else early.push(data);
      },
      onLinkClosed: () => {
        const current = session();
        if (!current) return;
        if (current.relinking) current.lostWhileRelinking = true;
        else this.relink(current);
      },
    };
  }

  /**
   * The device's link dropped (its network, or in a cluster the node holding it died): the agent
   * keeps the PTY, so wait for the device to come back through any node and reattach it from the
   * output this session has. Ends the session (DEVICE_OFFLINE) if it is not back within relinkMs
   * or the agent no longer has the PTY. Keystrokes typed meanwhile are held (up to
   * MAX_HELD_INPUT_BYTES) and typed into the PTY once it is back.
   */
  private relink(session: Session, announce = true): void {
    if (session.ended || session.relinking) return;
    session.relinking = true;
    if (announce && session.ws) {
      sendJson(session.ws, { type: 'notice', notice: 'device-away' });
      session.toldAway = true;
    }
    this.byStream.delete(`${session.deviceId}:${session.stream.id}`);
    session.stream.close();
    this.deps.log.info({ sessionId: session.id, deviceId: session.deviceId }, 'shell session lost its device link; waiting to reattach');
    void relink({
      router: this.deps.router,
      deviceId: session.deviceId,
      withinMs: this.limits.relinkMs,
      now: this.now,
      wanted: () => !session.ended,
      attach: async () => {
        session.lostWhileRelinking = false;
        await this.reattach(session);
        if (!session.lostWhileRelinking) return true;
        // Reattached on a link that is gone already: drop that stream and wait for the next.
        this.byStream.delete(`${session.deviceId}:${session.stream.id}`);
        session.stream.close();
        this.deps.log.info({ sessionId: session.id }, 'shell session lost the link it reattached on; waiting again');
        return false;
      },
    }).then((result) => {
      if (result.kind === 'attached') {
        session.relinking = false;
        if (session.toldAway && session.ws) sendJson(session.ws, { type: 'notice', notice: 'device-back', droppedBytes: session.droppedInputBytes });
        session.toldAway = false;
        session.droppedInputBytes = 0;
        this.sendHeldInput(session);
      } else if (result.kind !== 'abandoned') {
        this.deps.log.info({ sessionId: session.id, result }, 'shell session could not be reattached');
        this.end(session, null, 'DEVICE_OFFLINE');
      }
    });
  }

  /** Binds the session's PTY to a new stream on the device's current link; the agent resends what this session lacks. */
  private async reattach(session: Session): Promise<void> {
    const { router } = this.deps;
    const stream = await router.openStream(session.deviceId, this.streamHandlers(() => session));
    const key = `${session.deviceId}:${stream.id}`;
    // Everything the console acknowledged is passed on here, so acks held for the old link are void.
    if (session.ackTimer) clearTimeout(session.ackTimer);
    session.ackTimer = null;
    session.ackDue = 0;
    const acked = session.outputBytes - session.pendingBytes;
    session.stream = stream;
    this.byStream.set(key, session);
    try {
      const result = await router.request(session.deviceId, 'shell.reattach', { sessionId: session.id, streamId: stream.id, received: session.outputBytes, acked }, this.limits.openTimeoutMs);
      this.deps.log.info({ sessionId: session.id, result }, 'shell session reattached');
    } catch (err) {
      this.byStream.delete(key);
      stream.close();
      throw err;
    }
  }

  private attach(session: Session, ws: WebSocket, resumed: boolean): void {
    if (session.ended) return closeWith(ws, 'SHELL_ENDED');
    const previous = session.ws;
    session.ws = ws;
    if (previous && previous !== ws) closeWith(previous, 'DEVICE_SUPERSEDED');
    if (session.graceTimer) clearTimeout(session.graceTimer);
    session.graceTimer = null;
    sendJson(ws, { type: 'opened', sessionId: session.id, deviceId: session.deviceId, resumed, offset: session.outputBytes - session.pendingBytes });
    // What the previous socket may not have shown: the console acks only what xterm wrote.
    for (const chunk of session.pending) ws.send(chunk, { binary: true });
    if (resumed) {
      this.deps.audit.record(`user:${session.user.username}`, 'shell.resume', session.deviceId, { sessionId: session.id })
        .catch((err: unknown) => this.deps.log.error({ err, sessionId: session.id }, 'could not audit a shell resume'));
    }
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (session.ws !== ws || session.ended) return;
      if (isBinary) {
        this.touch(session);
        this.input(session, toBuffer(data));
        return;
      }
      const message = parseJsonMessage(ShellClientMessage, toBuffer(data).toString('utf8'));
      if (!message) return closeWith(ws, 'MESSAGE_MALFORMED');
      this.control(session, message);
    });
    ws.on('close', (code: number) => {
      // A closed tab ends the PTY now; only a lost connection waits for a reattach.
      if (code === SHELL_CLOSE_DELIBERATE && session.ws === ws) this.end(session, null, 'SHELL_CLOSED');
      else this.detach(session, ws);
    });
  }

  private control(session: Session, message: ShellClientMessage): void {
    switch (message.type) {
      case 'resize':
        this.touch(session);
        session.recorder.resize(message.cols, message.rows);
        this.deps.router
          .request(session.deviceId, 'shell.resize', { streamId: session.stream.id, cols: message.cols, rows: message.rows })
          .catch((err: unknown) => this.deps.log.debug({ err, sessionId: session.id }, 'resize failed'));
        return;
      case 'ack': {
        const bytes = Math.min(message.bytes, session.pendingBytes);
        if (bytes === 0) return;
        trimFront(session.pending, bytes);
        session.pendingBytes -= bytes;
        session.ackDue += bytes;
        if (session.ackDue >= SHELL_ACK_BATCH_BYTES) this.flushAck(session);
        else session.ackTimer ??= setTimeout(() => this.flushAck(session), SHELL_ACK_DELAY_MS);
        return;
      }
      default:
        missingCase(message);
    }
  }

  /** Console input to the PTY; held, in order, while the device's link is down. */
  private input(session: Session, data: Buffer): void {
    if (!session.relinking && session.heldInput.length === 0 && session.stream.send(data)) return;
    if (session.heldInputBytes + data.length > MAX_HELD_INPUT_BYTES) {
      if (session.droppedInputBytes === 0) {
        this.deps.log.warn({ sessionId: session.id }, 'console input dropped: too much typed while the device was away');
        if (session.ws) sendJson(session.ws, { type: 'notice', notice: 'input-dropped' });
      }
      session.droppedInputBytes += data.length;
      return;
    }
    session.heldInput.push(data);
    session.heldInputBytes += data.length;
  }

  /** Sends the input held while the link was down, until it is all sent or the new link is gone too. */
  private sendHeldInput(session: Session): void {
    while (session.heldInput.length > 0 && !session.relinking) {
      const data = session.heldInput[0] as Buffer;
      if (!session.stream.send(data)) return;
      session.heldInput.shift();
      session.heldInputBytes -= data.length;
    }
  }

  private flushAck(session: Session): void {
    if (session.ackTimer) clearTimeout(session.ackTimer);
    session.ackTimer = null;
    if (session.ackDue === 0 || session.ended) return;
    this.deps.router.publish([session.deviceId], 'shell.ack', { streamId: session.stream.id, bytes: session.ackDue });
    session.ackDue = 0;
  }

  private output(session: Session, data: Buffer): void {
    if (session.ended) return;
    session.outputBytes += data.length;
    session.pending.push(data);
    session.pendingBytes += data.length;
    if (session.pendingBytes > session.maxPendingBytes) session.maxPendingBytes = session.pendingBytes;
    if (session.pendingBytes > this.limits.maxPendingBytes) {
      this.deps.log.warn({ sessionId: session.id, pendingBytes: session.pendingBytes }, 'device ignores shell flow control');
      this.end(session, null, 'RATE_LIMITED_CHANNEL');
      return;
    }
    session.ws?.send(data, { binary: true });
    session.recorder.output(data);
  }

  private detach(session: Session, ws: WebSocket): void {
    if (session.ws !== null && session.ws !== ws) return;
    session.ws = null;
    if (session.ended || session.graceTimer) return;
    session.graceTimer = setTimeout(() => this.end(session, null, 'SHELL_ENDED'), this.limits.graceMs);
    session.graceTimer.unref();
  }

  private touch(session: Session): void {
    if (session.idleTimer) {
      session.idleTimer.refresh();
      return;
    }
    session.idleTimer = setTimeout(() => this.end(session, null, 'SHELL_IDLE'), this.limits.idleMs);
    session.idleTimer.unref();
  }

  /** Marks a session over here: its timers, its device stream and its recording stop (the PTY and the stored session are the caller's). */
  private stopRelaying(session: Session): void {
    session.ended = true;
    if (session.graceTimer) clearTimeout(session.graceTimer);
    if (session.idleTimer) clearTimeout(session.idleTimer);
    if (session.ackTimer) clearTimeout(session.ackTimer);
    this.byStream.delete(`${session.deviceId}:${session.stream.id}`);
    session.stream.close();
    session.recorder.close();
  }

  /**
   * Ends a session once: the shell exited (exitCode), or the backend ends it for `code`. The PTY
   * and the socket's input stop at once; the console hears `ended` once the row and the audit
   * entry are written, so what it then lists agrees with what it was told.
   */
  private end(session: Session, exitCode: number | null, code: ErrorCode | null): void {
    if (session.ended) return;
    this.stopRelaying(session);
    if (code !== null && code !== 'DEVICE_OFFLINE') {
      this.deps.router.request(session.deviceId, 'shell.close', { streamId: session.stream.id }).catch(() => undefined);
    }
    const ending = this.record(session, exitCode, code).finally(() => {
      this.ending.delete(ending);
      this.sessions.delete(session.id);
      this.deps.log.info({ sessionId: session.id, exitCode, code }, 'shell session ended');
      const ws = session.ws;
      session.ws = null;
      if (ws) {
        sendJson(ws, { type: 'ended', exitCode, code });
        if (code === null) ws.close(1000, 'exited');
        else closeWith(ws, code);
      }
    });
    this.ending.add(ending);
  }

  /** Writes a session's end with its audit entry, once (an already ended row is left as it is). */
  private async record(session: Session, exitCode: number | null, code: ErrorCode | null): Promise<void> {
    const { stores, audit } = this.deps;
    try {
      // The row exists only once the open was recorded; a session whose open failed has nothing to end.
      await session.recorded;
    } catch {
      return;
    }
    try {
      await stores.transaction(async (tx) => {
        const ended = await tx.shellSessions.end(session.id, { endedAt: this.now(), exitCode, endCode: code, outputBytes: session.outputBytes }, this.deps.owner);
        if (ended) await audit.record(`user:${session.user.username}`, 'shell.end', session.deviceId, { sessionId: session.id, exitCode, code, outputBytes: session.outputBytes }, tx);
      });
    } catch (err) {
      this.deps.log.error({ err, sessionId: session.id }, 'could not record the end of a shell session');
    }
  }

  private async sweepRecordings(): Promise<void> {
    const { shellSessions } = this.deps.stores;
    const cutoff = this.now() - this.limits.recordingRetentionMs;
    for (const { id, recording } of await shellSessions.expiredRecordings(cutoff)) {
      rmSync(join(this.deps.recordingsDir, recording), { force: true });
      await shellSessions.forgetRecording(id);
    }
  }
  /** Ends every session and waits until their ends are written. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.unsubscribe();
    for (const session of [...this.sessions.values()]) this.end(session, null, 'GOING_AWAY');
    await Promise.all([...this.ending]);
  }
}
