import { z } from 'zod';
import { DeviceId } from './control.js';

/** A stream id on one device link, allocated by the backend (u32 on the wire). */
export const StreamId = z.number().int().min(1).max(0xffffffff);

/** The backend's id of a shell session (a UUID). */
export const ShellSessionId = z.string().uuid();
/** The backend's id of a command run (a UUID). */
export const RunId = z.string().uuid();
const ByteOffset = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const TermSize = z.object({ cols: z.number().int().min(2).max(1000), rows: z.number().int().min(1).max(500) });
export type TermSize = z.infer<typeof TermSize>;

const EnvVars = z.record(z.string().min(1).max(128).regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(4096));

/** A command as a shell string (run by /bin/sh -c) or an argv vector (no shell). */
export const CommandSpec = z.union([
  z.object({ shell: z.string().min(1).max(16384) }),
  z.object({ argv: z.array(z.string().max(4096)).min(1).max(256) }),
]);
export type CommandSpec = z.infer<typeof CommandSpec>;

export const MAX_COMMAND_TIMEOUT_MS = 24 * 3600_000;

/** What runs on a device: the command, where, with what, and for how long at most. */
export const CommandRequest = z.object({
  command: CommandSpec,
  cwd: z.string().min(1).max(4096).optional(),
  env: EnvVars.optional(),
  timeoutMs: z.number().int().min(100).max(MAX_COMMAND_TIMEOUT_MS).default(60_000),
});
export type CommandRequest = z.infer<typeof CommandRequest>;
export type CommandRequestInput = z.input<typeof CommandRequest>;

/** How a command ended on the device. */
export const CommandOutcome = z.enum(['exited', 'timed_out', 'cancelled', 'spawn_failed']);
export type CommandOutcome = z.infer<typeof CommandOutcome>;

/** Backend → agent requests of the shell and commands features (merged into AGENT_METHODS). */
export const SHELL_AGENT_METHODS = {
  /**
   * Opens a PTY whose output goes to `streamId`; bytes the backend sends on `streamId` are its
   * input. With the backend's `sessionId`, the PTY outlives a dropped control channel for a
   * while, waiting for `shell.reattach`.
   */
  'shell.open': {
    params: TermSize.extend({ streamId: StreamId, sessionId: ShellSessionId.optional() }),
    result: z.object({ pid: z.number().int(), shell: z.string().max(4096) }),
  },
  /**
   * Binds a session to `streamId` on this channel (its control channel dropped, or its backend
   * lost the stream): `received` is how many output bytes the backend has (the agent resends the
   * rest), `acked` how many the console acknowledged.
   */
  'shell.reattach': {
    params: z.object({ sessionId: ShellSessionId, streamId: StreamId, received: ByteOffset, acked: ByteOffset }),
    result: z.object({ pid: z.number().int(), resent: z.number().int().nonnegative() }),
  },
  'shell.resize': { params: TermSize.extend({ streamId: StreamId }), result: z.object({}) },
  'shell.close': { params: z.object({ streamId: StreamId }), result: z.object({ closed: z.boolean() }) },
  /**
   * Starts a command in its own process group; stdout and stderr go to the two streams, the end is
   * a `command.exit` event. With the backend's `runId`, the command outlives a dropped control
   * channel for a while, waiting for `command.reattach`.
   */
  'command.start': {
    params: CommandRequest.extend({ stdoutStreamId: StreamId, stderrStreamId: StreamId, runId: RunId.optional() }),
    result: z.object({ pid: z.number().int() }),
  },
  /**
   * Binds a command started with `runId` to two streams on this channel (its control channel
   * dropped): `received` is how many bytes of each the backend has; the agent resends the rest it
   * still holds (`gap` counts the bytes it no longer had) and reports an exit that happened meanwhile.
   */
  'command.reattach': {
    params: z.object({ runId: RunId, stdoutStreamId: StreamId, stderrStreamId: StreamId, received: z.object({ stdout: ByteOffset, stderr: ByteOffset }) }),
    result: z.object({ resent: z.number().int().nonnegative(), gap: z.number().int().nonnegative() }),
  },
  /**
   * Kills the command's whole process group: the one on a stream of this channel, or the one
   * started with `runId` (also while it waits detached, its run cancelled before reattaching it).
   */
  'command.cancel': { params: z.union([z.object({ stdoutStreamId: StreamId }), z.object({ runId: RunId })]), result: z.object({ cancelled: z.boolean() }) },
} as const;

/** Agent → backend events of the shell and commands features (merged into AGENT_EVENTS). */
export const SHELL_AGENT_EVENTS = {
  'shell.exit': z.object({ streamId: StreamId, exitCode: z.number().int().nullable(), signal: z.number().int().nullable() }),
  'command.exit': z.object({
    stdoutStreamId: StreamId,
    outcome: CommandOutcome,
    exitCode: z.number().int().nullable(),
    signal: z.string().max(32).nullable(),
    /** Output beyond the agent's bound was dropped. */
    truncated: z.boolean(),
    error: z.string().max(4096).optional(),
  }),
} as const;

/** Backend → agent events: the console has written `bytes` more of the stream (flow control). */
export const SHELL_BACKEND_EVENTS = {
  'shell.ack': z.object({ streamId: StreamId, bytes: z.number().int().min(1).max(64 * 1024 * 1024) }),
} as const;

/**
 * How acks travel, console → backend → agent: at once from SHELL_ACK_BATCH_BYTES unacknowledged,
 * otherwise after SHELL_ACK_DELAY_MS, so typing costs one ack per pause instead of one per key on
 * each leg. The agent pauses a PTY only far above a batch (160 KB) and resumes far below it
 * (96 KB), so a flood never waits on the delay.
 */
export const SHELL_ACK_BATCH_BYTES = 16 * 1024;
export const SHELL_ACK_DELAY_MS = 20;

/**
 * The close code by which a console closes its shell socket on purpose (its terminal tab was
 * closed): the backend ends the PTY and the recording at once. Any other close (1001 on page
 * unload, 1005/1006 on a dropped connection) keeps the session for the resume grace period.
 * RFC 6455's Normal Closure: "the purpose for which the connection was established has been fulfilled".
 */
export const SHELL_CLOSE_DELIBERATE = 1000;

/**
 * Console ↔ backend over `/api/v1/shell`: binary frames are raw terminal bytes (input one
 * way, output the other); text frames are these JSON control messages.
 */
export const ShellClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('resize'), cols: TermSize.shape.cols, rows: TermSize.shape.rows }),
  /** xterm has written `bytes` more output: the flow-control credit the agent waits for. */
  z.object({ type: z.literal('ack'), bytes: z.number().int().min(1).max(64 * 1024 * 1024) }),
]);
export type ShellClientMessage = z.infer<typeof ShellClientMessage>;

export const ShellServerMessage = z.discriminatedUnion('type', [
  /**
   * First message on every shell socket; `resumed` after a reconnect to a live session. `offset`:
   * where in the session's output the binary frames that follow begin (the bytes the console had
   * acked); after a reconnect the backend resends from there, which the console may have drawn
   * already. Optional: a backend without it resends the same way, unnumbered.
   */
  z.object({ type: z.literal('opened'), sessionId: z.string(), deviceId: DeviceId, resumed: z.boolean(), offset: z.number().int().min(0).optional() }),
  /** The session ended: the shell exited, or `code` says why the backend closed it. */
  z.object({ type: z.literal('ended'), exitCode: z.number().int().nullable(), code: z.string().max(64).nullable() }),
  /**
   * The device's link dropped (`device-away`: the PTY lives on, typing is held), typing went past
   * what is held (`input-dropped`), or the PTY is reattached (`device-back`, with the bytes of
   * input dropped meanwhile). Consoles show {@link shellNoticeText}; older consoles ignore it.
   */
  z.object({ type: z.literal('notice'), notice: z.enum(['device-away', 'input-dropped', 'device-back']), droppedBytes: z.number().int().min(0).optional() }),
]);
export type ShellServerMessage = z.infer<typeof ShellServerMessage>;
export type ShellNotice = Extract<ShellServerMessage, { type: 'notice' }>;

/** What a console prints for a notice, inside the terminal (console) or on stderr (`tether shell`). */
export function shellNoticeText(msg: ShellNotice): string {
  switch (msg.notice) {
    case 'device-away':
      return 'the device\'s connection dropped; the shell lives on, and what you type is held until it is back';
    case 'input-dropped':
      return 'too much typed while the device is away: more input is dropped until it is back';
    case 'device-back':
      return (msg.droppedBytes ?? 0) > 0 ? `the device is back; ${msg.droppedBytes} bytes typed meanwhile were dropped` : 'the device is back';
  }
}

/** Query of `GET /api/v1/shell` (the WebSocket upgrade): a new session on a device, or a reconnect. */
export const ShellSocketQuery = z.union([
  /**
   * A reconnect; `offset`: the session's output bytes this console has received. With it, a
   * cluster node other than the session's takes the session over, resending from there.
   */
  z.object({ sessionId: z.string().uuid(), offset: z.coerce.number().pipe(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)).optional() }),
  z.object({ deviceId: DeviceId, cols: z.coerce.number().pipe(TermSize.shape.cols), rows: z.coerce.number().pipe(TermSize.shape.rows) }),
]);
export type ShellSocketQuery = z.infer<typeof ShellSocketQuery>;

export const ShellSessionInfo = z.object({
  id: z.string(),
  deviceId: z.string(),
  username: z.string(),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  exitCode: z.number().int().nullable(),
  endCode: z.string().nullable(),
  outputBytes: z.number().int(),
  live: z.boolean(),
  /** Live sessions: the most output that ever waited on the console's ack (flow-control evidence). */
  maxPendingBytes: z.number().int().nullable(),
  hasRecording: z.boolean(),
});
export type ShellSessionInfo = z.infer<typeof ShellSessionInfo>;
export const ShellSessionList = z.object({ sessions: z.array(ShellSessionInfo) });
