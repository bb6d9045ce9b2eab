import { describe, expect, it } from 'vitest';
import { parseCast } from './asciicast-player.js';

describe('parseCast', () => {
  it('reads the size from the header and keeps well-formed events only', () => {
    const cast = parseCast('{"version":2,"width":100,"height":30}\n[0.1,"o","$ "]\nnot json\n[0.5,"r","90x20"]\n');
    expect(cast).toEqual({ cols: 100, rows: 30, events: [{ t: 0.1, kind: 'o', data: '$ ' }, { t: 0.5, kind: 'r', data: '90x20' }] });
  });
});
