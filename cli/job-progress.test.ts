import { describe, expect, it } from 'vitest';
import { progressLine } from './job-progress.js';
import { formatTable, jsonLine, terminalSafe } from './terminal-text.js';

describe('progressLine', () => {
  it('counts final runs and lists each state that has runs', () => {
    const counts = { queued: 1, running: 2, succeeded: 6, failed: 1, timed_out: 0, cancelled: 0, expired: 0 };
    expect(progressLine({ id: '1b2c3d4e-0000-4000-8000-000000000000', state: 'running', total: 10, counts })).toBe(
      'job 1b2c3d4e running: 7/10 done · queued 1 · running 2 · succeeded 6 · failed 1',
    );
  });
});

describe('terminal text', () => {
  it('escapes control characters from the server, keeping newlines and tabs', () => {
    expect(terminalSafe('a\x1b[31mred\x07\n\tb')).toBe('a\\u001b[31mred\\u0007\n\tb');
  });

  it('JSON output escapes DEL and C1 controls too, and stays the same JSON', () => {
    const value = { name: 'a\u009b31mb\u007f\u001b' };
    const line = jsonLine(value);
    expect(line).toBe('{"name":"a\\u009b31mb\\u007f\\u001b"}\n');
    expect(JSON.parse(line)).toEqual(value);
  });

  it('formats a table with escaped cells', () => {
    expect(formatTable(['NAME', 'ID'], [['a\x1bb', '1'], ['long-name', '2']])).toBe('NAME       ID\na\\u001bb   1\nlong-name  2\n');
  });
});
