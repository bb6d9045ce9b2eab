import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readWindowState, writeWindowState } from './window-state-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tether-window-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('window state file', () => {
  it('round-trips', () => {
    const file = join(dir, 'window-state.json');
    writeWindowState(file, { x: -10, y: 20, width: 800, height: 600, maximized: true });
    expect(readWindowState(file)).toEqual({ x: -10, y: 20, width: 800, height: 600, maximized: true });
  });

  it.each([['missing', null], ['not JSON', '{'], ['absurd sizes', JSON.stringify({ x: 0, y: 0, width: 1e9, height: 10, maximized: false })], ['fractions', JSON.stringify({ x: 0.5, y: 0, width: 10, height: 10, maximized: false })]])(
    'is null when %s',
    (_label, text) => {
      const file = join(dir, 'window-state.json');
      if (text !== null) writeFileSync(file, text);
      expect(readWindowState(file)).toBeNull();
    },
  );
});
