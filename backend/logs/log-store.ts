import type { LogLine, StoredLogLine } from '../../protocol/index.js';

/** A line to store, with its device. */
export type NewLogLine = LogLine & { deviceId: string };

/**
 * One search term: its tokens (as `logTokens` makes them, never empty) must appear one after
 * another in the message or in the source; with `prefix`, the last one may be the start of a token.
 */
export interface LogTerm {
  tokens: readonly string[];
  prefix: boolean;
}

export interface LogFilter {
  /** Every term must match (AND); none or empty: no text condition. */
  terms?: readonly LogTerm[];
  deviceId?: string;
  /** Inclusive lower bound of `ts`. */
  from?: number;
  /** Exclusive upper bound of `ts`. */
  to?: number;
  limit: number;
}

/** Stored log lines of every device, searchable by text. */
export interface LogStore {
  /** Stores lines in the order given; returns their ids in that order. */
  append(lines: readonly NewLogLine[]): Promise<number[]>;
  /** Up to `limit` matching lines, newest first (ts, then id, descending). */
  search(filter: LogFilter): Promise<StoredLogLine[]>;
}
