import { desktopOperations, isErrorCode, TetherError, type DesktopHandlers, type DesktopReply } from '../protocol/index.js';
import { APP_ORIGIN } from './app-protocol.js';
import { originOf } from './navigation.js';

/** The parts of Electron's `IpcMainInvokeEvent` the check reads; the real event satisfies it. */
export interface IpcSenderEvent {
  readonly sender: { readonly id: number };
  readonly senderFrame: { readonly url: string; readonly parent: unknown } | null;
}

/**
 * True only for the top frame of one of our own windows showing our own bundle. A frame the
 * page embedded, a window someone else opened, or the page after a navigation elsewhere
 * (which the guards deny, but this does not rely on it) gets IPC_FORBIDDEN.
 */
export function isTrustedSender(event: IpcSenderEvent, ourContentsIds: ReadonlySet<number>): boolean {
  const frame = event.senderFrame;
  if (frame === null || frame.parent !== null) return false;
  if (originOf(frame.url) !== APP_ORIGIN) return false;
  return ourContentsIds.has(event.sender.id);
}

export type DesktopChannelHandler = (event: IpcSenderEvent, ...args: unknown[]) => Promise<DesktopReply>;

/**
 * One checked handler per operation of `DESKTOP_API`, keyed by channel, for `ipcMain.handle`.
 * Each checks the sender, parses the arguments with the operation's schema and answers a
 * {@link DesktopReply}: the value, or a stable code (IPC_FORBIDDEN, BAD_REQUEST, or what the
 * implementation threw as a TetherError; anything else is INTERNAL and logged).
 */
export function createDesktopChannels(
  handlers: DesktopHandlers,
  ourContentsIds: () => ReadonlySet<number>,
  log: (message: string, error: unknown) => void,
): Map<string, DesktopChannelHandler> {
  const channels = new Map<string, DesktopChannelHandler>();
  const table = handlers as unknown as Record<string, Record<string, (...args: unknown[]) => unknown>>;
  for (const { group, operation, channel, args: schema } of desktopOperations()) {
    const implementation = table[group]?.[operation];
    if (implementation === undefined) throw new Error(`no handler for ${group}.${operation}`);
    channels.set(channel, async (event, ...args) => {
      if (!isTrustedSender(event, ourContentsIds())) return failure('IPC_FORBIDDEN');
      const parsed = schema.safeParse(args);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return { ok: false, code: 'BAD_REQUEST', message: `${group}.${operation}: ${issue ? `${issue.path.join('.')} ${issue.message}`.trim() : 'bad arguments'}` };
      }
      try {
        const value = await implementation(...(parsed.data as unknown[]));
        return { ok: true, value: value ?? null };
      } catch (error) {
        if (error instanceof TetherError) return { ok: false, code: error.code, message: error.message };
        log(`desktop call ${group}.${operation} failed`, error);
        return failure('INTERNAL');
      }
    });
  }
  return channels;
}

function failure(code: 'IPC_FORBIDDEN' | 'INTERNAL'): DesktopReply {
  return { ok: false, code, message: isErrorCode(code) ? new TetherError(code).message : code };
}
