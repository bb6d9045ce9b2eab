import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TelemetryBatch } from '../../protocol/index.js';
import { Spool } from './spool.js';

const dirs: string[] = [];
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tether-spool-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function batch(seq: number, metrics = 10): TelemetryBatch {
  return { type: 'batch', seq, metrics: Array.from({ length: metrics }, (_, i) => ({ ts: 1_000 + seq, name: `m.${i}`, value: i })), logs: [] };
}

describe('Spool', () => {
  it('stays under its byte bound by dropping the oldest batches and counts exactly the samples dropped', () => {
    const d = dir();
    const one = Buffer.byteLength(JSON.stringify(batch(100)));
    const spool = new Spool({ dir: d, maxBytes: one * 10 + 5 });
    for (let seq = 100; seq < 150; seq++) {
      spool.append(batch(seq));
      expect(spool.bytes).toBeLessThanOrEqual(one * 10 + 5);
    }
    expect(spool.size).toBe(10);
    expect(spool.seqs()).toEqual(Array.from({ length: 10 }, (_, i) => 140 + i));
    expect(spool.dropped).toBe(40 * 10);
    expect(readdirSync(d).filter((f) => f.endsWith('.json'))).toHaveLength(10);
  });

  it('drops batches older than its age bound, oldest first', () => {
    let now = 0;
    const spool = new Spool({ dir: dir(), maxAgeMs: 1_000, now: () => now });
    spool.append(batch(1, 3));
    now = 600;
    spool.append(batch(2, 4));
    now = 1_200;
    spool.append(batch(3, 5));
    expect(spool.seqs()).toEqual([2, 3]);
    expect(spool.dropped).toBe(3);
  });

  it('keeps unacked batches and the dropped count across a restart; an acked batch is gone for good', () => {
    const d = dir();
    const one = Buffer.byteLength(JSON.stringify(batch(1)));
    const first = new Spool({ dir: d, maxBytes: one * 3 + 5 });
    for (let seq = 1; seq <= 5; seq++) first.append(batch(seq, 10));
    first.remove(4);
    const second = new Spool({ dir: d, maxBytes: one * 3 + 5 });
    expect(second.seqs()).toEqual([3, 5]);
    expect(second.dropped).toBe(20);
    expect(second.read(5)).toEqual(batch(5, 10));
    expect(second.lastSeq).toBe(5);
  });

  it('a refused batch is deleted and its samples counted', () => {
    const spool = new Spool({ dir: dir() });
    spool.append(batch(7, 6));
    spool.drop(7);
    expect(spool.size).toBe(0);
    expect(spool.dropped).toBe(6);
  });
});
