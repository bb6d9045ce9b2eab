import { ConsoleServerMessage } from '../../protocol/index.js';

/** Frames larger than this are dropped unparsed; the browser WebSocket has no `maxPayload` of its own. */
export const MAX_CONSOLE_FRAME_CHARS = 1024 * 1024;

/**
 * Parses one frame from the console socket. Returns null (and warns) for anything that is not
 * a valid {@link ConsoleServerMessage}, so a newer or broken backend cannot crash the UI.
 */
export function parseConsoleMessage(data: unknown): ConsoleServerMessage | null {
  if (typeof data !== 'string') {
    console.warn('console socket: ignoring a non-text frame');
    return null;
  }
  if (data.length > MAX_CONSOLE_FRAME_CHARS) {
    console.warn(`console socket: ignoring a ${data.length}-character frame`);
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    console.warn('console socket: ignoring a frame that is not JSON');
    return null;
  }
  const parsed = ConsoleServerMessage.safeParse(json);
  if (!parsed.success) {
    console.warn('console socket: ignoring an invalid message', parsed.error.issues);
    return null;
  }
  return parsed.data;
}
