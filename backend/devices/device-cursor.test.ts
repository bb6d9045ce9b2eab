import { describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { decodeDeviceCursor, encodeDeviceCursor } from './device-cursor.js';

const ID = `dev_${'a'.repeat(26)}`;

describe('device list cursors', () => {
  it('round-trip any name, URL-safe', () => {
    for (const name of ['robot-1', 'Zürich, rack 3 / "B"', '', '🤖'.repeat(40)]) {
      const cursor = encodeDeviceCursor({ name, id: ID });
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeDeviceCursor(cursor)).toEqual({ name, id: ID });
    }
  });

  it('refuse what the backend did not hand out with BAD_REQUEST', () => {
    const bad = ['!!!', Buffer.from('{"name":"a"}').toString('base64url'), Buffer.from('["a"]').toString('base64url'), Buffer.from('["a","dev_X"]').toString('base64url'), Buffer.from('[1,2]').toString('base64url')];
    for (const cursor of bad) {
      let error: unknown;
      try {
        decodeDeviceCursor(cursor);
      } catch (e) {
        error = e;
      }
      expect(error, cursor).toBeInstanceOf(TetherError);
      expect((error as TetherError).code, cursor).toBe('BAD_REQUEST');
    }
  });
});
