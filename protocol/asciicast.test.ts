import { describe, expect, it } from 'vitest';
import { parseAsciicast } from './asciicast.js';

describe('parseAsciicast', () => {
  it('reads the header and keeps well-formed events only', () => {
    const cast = parseAsciicast('{"version":2,"width":100,"height":30,"timestamp":1000}\n[0.1,"o","$ "]\nnot json\n[0.3,"o"]\n[0.5,"r","90x20"]\n[0.6,"o","cut');
    expect(cast).toEqual({
      header: { version: 2, width: 100, height: 30, timestamp: 1000 },
      events: [{ t: 0.1, kind: 'o', data: '$ ' }, { t: 0.5, kind: 'r', data: '90x20' }],
    });
  });

  it('refuses what is not an asciicast v2 recording with BAD_REQUEST', () => {
    for (const text of ['', 'hello\n[0,"o","x"]', '{"version":1,"width":80,"height":24}\n', '{"version":2,"width":0,"height":24}\n']) {
      expect(() => parseAsciicast(text), text).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    }
  });
});
