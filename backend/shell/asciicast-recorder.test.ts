import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseAsciicast } from '../../protocol/index.js';
import { AsciicastRecorder, RECORDING_FLUSH_BYTES, RECORDING_FLUSH_MS } from './asciicast-recorder.js';

const dirs: string[] = [];
function file(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tether-cast-'));
  dirs.push(dir);
  return join(dir, 's.cast');
}
afterEach(() => {
  vi.useRealTimers();
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** A recording's events as the file writes them, `[seconds, kind, data]`. */
const eventsOf = (path: string) => parseAsciicast(readFileSync(path, 'utf8')).events.map((e) => [e.t, e.kind, e.data]);

describe('AsciicastRecorder', () => {
  it('writes a v2 header, timed output and resize events, 0600', () => {
    let now = 1_000_000;
    const path = file();
    const rec = new AsciicastRecorder(path, { cols: 80, rows: 24, startedAt: now }, undefined, () => now);
    rec.output(Buffer.from('$ ls\r\n'));
    now += 1500;
    rec.resize(100, 30);
    rec.close();
    const { header } = parseAsciicast(readFileSync(path, 'utf8'));
    const events = eventsOf(path);
    expect(header).toMatchObject({ version: 2, width: 80, height: 24, timestamp: 1000 });
    expect(events).toEqual([[0, 'o', '$ ls\r\n'], [1.5, 'r', '100x30']]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('a session continued in another process appends to its recording, timed from its start; without the file it starts one', () => {
    let now = 1_000_000;
    const path = file();
    const first = new AsciicastRecorder(path, { cols: 80, rows: 24, startedAt: now }, undefined, () => now);
    first.output(Buffer.from('before\r\n'));
    first.close();
    now += 2000;
    const next = new AsciicastRecorder(path, { cols: 80, rows: 24, startedAt: 1_000_000, continued: true }, undefined, () => now);
    next.output(Buffer.from('after\r\n'));
    next.close();
    expect(eventsOf(path)).toEqual([[0, 'o', 'before\r\n'], [2, 'o', 'after\r\n']]);
    const elsewhere = join(path, '..', 'other.cast');
    const fresh = new AsciicastRecorder(elsewhere, { cols: 80, rows: 24, startedAt: 1_000_000, continued: true }, undefined, () => now);
    fresh.output(Buffer.from('after\r\n'));
    fresh.close();
    expect(parseAsciicast(readFileSync(elsewhere, 'utf8')).header).toMatchObject({ version: 2, timestamp: 1000 });
    expect(eventsOf(elsewhere)).toEqual([[2, 'o', 'after\r\n']]);
  });

  it('keeps a UTF-8 character split across chunks whole', () => {
    const path = file();
    const rec = new AsciicastRecorder(path, { cols: 80, rows: 24, startedAt: Date.now() });
    const bytes = Buffer.from('é✓', 'utf8');
    rec.output(bytes.subarray(0, 1));
    rec.output(bytes.subarray(1, 3));
    rec.output(bytes.subarray(3));
    rec.close();
    const text = eventsOf(path).map((e) => e[2]).join('');
    expect(text).toBe('é✓');
  });

  it('records bytes that are not UTF-8 as U+FFFD, a sequence cut short by the next chunk or by the end too', () => {
    const path = file();
    const rec = new AsciicastRecorder(path, { cols: 80, rows: 24, startedAt: Date.now() });
    rec.output(Buffer.from([0xff, 0x61, 0xe2, 0x9c]));
    rec.output(Buffer.from([0x62, 0xe2]));
    rec.close();
    expect(eventsOf(path).map((e) => e[2]).join('')).toBe('\ufffda\ufffdb\ufffd');
  });

  it('records ASCII with control characters, quotes and backslashes exactly, also after a character cut short', () => {
    const path = file();
    const rec = new AsciicastRecorder(path, { cols: 80, rows: 24, startedAt: Date.now() });
    const ascii = '\x1b[1m"q"\\ \t\x00\x7f\r\n';
    rec.output(Buffer.from(ascii, 'latin1'));
    rec.output(Buffer.from('✓', 'utf8'));
    rec.output(Buffer.from(ascii, 'latin1'));
    rec.output(Buffer.from([0xc3]));
    rec.output(Buffer.from('ok', 'latin1'));
    rec.close();
    expect(eventsOf(path).map((e) => e[2]).join('')).toBe(`${ascii}✓${ascii}\ufffdok`);
  });

  it('stops at the size bound with a marker and never overwrites an existing file', () => {
    const path = file();
    const rec = new AsciicastRecorder(path, { cols: 80, rows: 24, startedAt: Date.now() }, 400);
    for (let i = 0; i < 100; i++) rec.output(Buffer.from('y\n'.repeat(10)));
    rec.close();
    expect(rec.truncated).toBe(true);
    const events = eventsOf(path);
    expect(events.at(-1)?.[1]).toBe('m');
    expect(statSync(path).size).toBeLessThan(600);
    expect(() => new AsciicastRecorder(path, { cols: 1, rows: 1, startedAt: 0 })).toThrow(/EEXIST/);
  });

  it('writes lines in batches, after the flush delay or at the byte bound, each chunk at its own time', () => {
    vi.useFakeTimers();
    let now = 2_000_000;
    const path = file();
    const rec = new AsciicastRecorder(path, { cols: 80, rows: 24, startedAt: now }, undefined, () => now);
    const events = () => eventsOf(path);
    now += 250;
    rec.output(Buffer.from('one '));
    now += 10;
    rec.output(Buffer.from('two'));
    expect(events()).toEqual([]);
    vi.advanceTimersByTime(RECORDING_FLUSH_MS);
    expect(events()).toEqual([[0.25, 'o', 'one '], [0.26, 'o', 'two']]);

    rec.output(Buffer.alloc(RECORDING_FLUSH_BYTES, 'z'));
    expect(events()).toHaveLength(3);
    rec.resize(90, 20);
    rec.close();
    expect(events().at(-1)).toEqual([0.26, 'r', '90x20']);
  });
});
