import { z } from 'zod';
import { TetherError } from './errors.js';

/**
 * Shell recordings are asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON
 * header line, then one JSON array per event. The backend writes them; the console and tests
 * read them with {@link parseAsciicast}.
 */
export const AsciicastHeader = z.object({
  version: z.literal(2),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** Seconds since the epoch. */
  timestamp: z.number().optional(),
  title: z.string().optional(),
});
export type AsciicastHeader = z.infer<typeof AsciicastHeader>;

/** `[seconds since the start, kind, data]`; kinds: `o` output, `i` input, `r` resize (`COLSxROWS`), `m` marker. */
const EventLine = z.tuple([z.number().nonnegative(), z.string().min(1), z.string()]);

export interface AsciicastEvent {
  t: number;
  kind: string;
  data: string;
}

export interface Asciicast {
  header: AsciicastHeader;
  events: AsciicastEvent[];
}

function json(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * Reads a recording. A first line that is not an asciicast v2 header is BAD_REQUEST; an event
 * line that does not parse is skipped, as asciinema's player does (the last line of a recording
 * cut short by a crash may be partial).
 */
export function parseAsciicast(text: string): Asciicast {
  const [first = '', ...rest] = text.split('\n').filter((line) => line.length > 0);
  const header = AsciicastHeader.safeParse(json(first));
  if (!header.success) throw new TetherError('BAD_REQUEST', 'Not an asciicast v2 recording: the header line is missing or malformed');
  const events = rest.flatMap((line) => {
    const event = EventLine.safeParse(json(line));
    return event.success ? [{ t: event.data[0], kind: event.data[1], data: event.data[2] }] : [];
  });
  return { header: header.data, events };
}
