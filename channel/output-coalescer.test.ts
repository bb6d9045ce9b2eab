import { describe, expect, it } from 'vitest';
import { OutputCoalescer } from './output-coalescer.js';

const full = (ch: string) => Buffer.alloc(4095, ch);

function harness(maxBytes = 32 * 1024) {
  const sent: Buffer[] = [];
  const turns: Array<() => void> = [];
  const c = new OutputCoalescer({ emit: (data) => sent.push(data), maxBytes, defer: (fn) => turns.push(fn) });
  /** Ends one event-loop turn: runs what was deferred to it. */
  const turn = () => {
    for (const fn of turns.splice(0)) fn();
  };
  return { c, sent, turn, pending: () => turns.length };
}

describe('OutputCoalescer', () => {
  it('sends a short read at once (a keystroke echo waits for no turn)', () => {
    const h = harness();
    h.c.push(Buffer.from('x'));
    h.c.push(Buffer.from('$ '));
    expect(h.sent.map(String)).toEqual(['x', '$ ']);
    expect(h.pending()).toBe(0);
  });

  it('holds a full read and joins the reads of the next turns until one brings nothing', () => {
    const h = harness();
    h.c.push(full('a'));
    h.turn();
    h.c.push(full('b'));
    h.turn();
    h.c.push(Buffer.from('end'));
    h.turn();
    expect(h.sent).toEqual([]);
    h.turn();
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]?.toString()).toBe(`${'a'.repeat(4095)}${'b'.repeat(4095)}end`);
  });

  it('sends a held full read after the first turn that brought nothing new', () => {
    const h = harness();
    h.c.push(full('a'));
    h.turn(); // the turn the read landed in
    expect(h.sent).toHaveLength(0);
    h.turn();
    expect(h.sent).toHaveLength(1);
    expect(h.pending()).toBe(0);
  });

  it('sends as soon as maxBytes are held, without waiting for the burst to end', () => {
    const h = harness(3 * 4095);
    for (let i = 0; i < 4; i++) h.c.push(full('z'));
    expect(h.sent.map((b) => b.length)).toEqual([3 * 4095]);
    h.turn();
    h.turn();
    expect(h.sent.map((b) => b.length)).toEqual([3 * 4095, 4095]);
  });

  it('flush() sends what is held now, once', () => {
    const h = harness();
    h.c.push(full('a'));
    h.c.flush();
    h.c.flush();
    h.turn();
    h.turn();
    expect(h.sent).toHaveLength(1);
  });
});
