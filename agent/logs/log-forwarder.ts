import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import type { LogLine } from '../../protocol/telemetry.js';

type Level = LogLine['level'];

export interface LogForwarderOptions {
  /** Files to follow from their current end (rotation and truncation are detected). */
  files: string[];
  /** Follow the systemd journal when this machine has one. */
  journal?: boolean;
  pollMs?: number;
  /** Collected lines are handed over at most this often. */
  flushMs?: number;
  /** Lines kept between flushes; beyond it the oldest are dropped and counted. */
  maxBuffered?: number;
  now?: () => number;
}

const MAX_LINE = 16_384;
const MAX_READ = 1024 * 1024;

/** A level from the words a line starts with or contains (`ERROR`, `warn:`, `[crit]`). */
export function guessLevel(text: string): Level {
  const head = text.slice(0, 200).toLowerCase();
  if (/\b(crit|critical|fatal|panic|emerg|alert)\b/.test(head)) return 'critical';
  if (/\b(err|error|fail|failed|exception)\b/.test(head)) return 'error';
  if (/\b(warn|warning)\b/.test(head)) return 'warning';
  if (/\bnotice\b/.test(head)) return 'notice';
  if (/\b(debug|trace)\b/.test(head)) return 'debug';
  return 'info';
}

/** syslog priority (journald PRIORITY) → level. */
export function levelOfPriority(priority: number): Level {
  if (priority <= 2) return 'critical';
  if (priority === 3) return 'error';
  if (priority === 4) return 'warning';
  if (priority === 5) return 'notice';
  if (priority === 6) return 'info';
  return 'debug';
}

interface Tail { path: string; offset: number; ino: number; partial: string }

/**
 * Forwards log lines from configured files and the systemd journal. Files are polled (stat,
 * then read what was appended), which works on every filesystem and survives rotation;
 * the journal is followed through `journalctl -f -o json`.
 */
export class LogForwarder {
  private readonly tails: Tail[] = [];
  private buffer: LogLine[] = [];
  private pollTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private journal: ChildProcess | null = null;
  private readonly now: () => number;
  /** Lines dropped because the buffer was full. */
  dropped = 0;

  constructor(private readonly onLines: (lines: LogLine[]) => void, private readonly options: LogForwarderOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    for (const path of this.options.files) {
      let offset = 0;
      let ino = 0;
      try {
        const st = statSync(path);
        offset = st.size;
        ino = st.ino;
      } catch {
        // not there yet: it is read from its start once it appears
      }
      this.tails.push({ path, offset, ino, partial: '' });
    }
    this.pollTimer = setInterval(() => this.poll(), this.options.pollMs ?? 500);
    this.flushTimer = setInterval(() => this.flush(), this.options.flushMs ?? 500);
    if (this.options.journal !== false && existsSync('/run/systemd/journal')) this.followJournal();
  }

  private push(line: LogLine): void {
    const max = this.options.maxBuffered ?? 10_000;
    if (this.buffer.length >= max) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push(line);
  }

  poll(): void {
    for (const tail of this.tails) {
      let st;
      try {
        st = statSync(tail.path);
      } catch {
        continue;
      }
      if (st.ino !== tail.ino || st.size < tail.offset) {
        // Rotated or truncated: the new file is read from its start.
        tail.ino = st.ino;
        tail.offset = 0;
        tail.partial = '';
      }
      if (st.size === tail.offset) continue;
      const length = Math.min(st.size - tail.offset, MAX_READ);
      const chunk = Buffer.alloc(length);
      const fd = openSync(tail.path, 'r');
      try {
        readSync(fd, chunk, 0, length, tail.offset);
      } finally {
        closeSync(fd);
      }
      tail.offset += length;
      const text = tail.partial + chunk.toString('utf8');
      const lines = text.split('\n');
      tail.partial = (lines.pop() ?? '').slice(0, MAX_LINE);
      const source = basename(tail.path).slice(0, 256);
      for (const raw of lines) {
        const message = raw.replace(/\r$/, '').slice(0, MAX_LINE);
        if (message.trim() === '') continue;
        this.push({ ts: this.now(), level: guessLevel(message), source, message });
      }
    }
  }

  private followJournal(): void {
    let child: ChildProcess;
    try {
      child = spawn('journalctl', ['-f', '-o', 'json', '-n', '0', '--no-pager'], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return;
    }
    child.on('error', () => undefined);
    this.journal = child;
    if (!child.stdout) return;
    createInterface({ input: child.stdout }).on('line', (text) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      const message = typeof entry.MESSAGE === 'string' ? entry.MESSAGE : null;
      if (message === null) return;
      const micros = Number(entry.__REALTIME_TIMESTAMP);
      const source = String(entry.SYSLOG_IDENTIFIER ?? entry._SYSTEMD_UNIT ?? 'journal').slice(0, 256);
      this.push({
        ts: Number.isFinite(micros) ? Math.floor(micros / 1000) : this.now(),
        level: levelOfPriority(Number(entry.PRIORITY ?? 6)),
        source,
        message: message.slice(0, MAX_LINE),
      });
    });
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    const lines = this.buffer;
    this.buffer = [];
    this.onLines(lines);
  }

  stop(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.journal?.kill();
    this.flush();
  }
}
