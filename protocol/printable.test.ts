import { describe, expect, it } from 'vitest';
import { DeviceName, Tags, Username } from './api.js';
import { TetherError } from './errors.js';
import { escapeControlCharacters, hasControlCharacters, parseOrThrow } from './printable.js';

describe('control characters', () => {
  it('finds C0, DEL and C1, and nothing else', () => {
    for (const code of [0x00, 0x07, 0x0a, 0x1b, 0x1f, 0x7f, 0x80, 0x9b, 0x9f]) expect(hasControlCharacters(`a${String.fromCharCode(code)}b`), code.toString(16)).toBe(true);
    for (const text of ['robot-7', 'Łódź café', '机器人', 'a b', '🤖', '\u00a0']) expect(hasControlCharacters(text), text).toBe(false);
  });

  it('escapes them as \\u escapes that stay valid JSON, keeping the characters asked for', () => {
    expect(escapeControlCharacters('a\u001b[31mb\u009b\u007f')).toBe('a\\u001b[31mb\\u009b\\u007f');
    expect(escapeControlCharacters('line\nnext\u0007', '\n')).toBe('line\nnext\\u0007');
    expect(JSON.parse(`"${escapeControlCharacters('x\u009by')}"`)).toBe('x\u009by');
    expect(escapeControlCharacters('🤖 ok')).toBe('🤖 ok');
  });

  it('device names, user names, tag keys and values refuse them with CONTROL_CHARACTERS', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
        return 'ok';
      } catch (err) {
        return err instanceof TetherError ? [err.code, err.message] : String(err);
      }
    };
    expect(codeOf(() => parseOrThrow(DeviceName, 'robot\u001b[2J', 'name'))).toEqual(['CONTROL_CHARACTERS', 'name /: must not contain control characters']);
    expect(codeOf(() => parseOrThrow(Username, 'eve\u0000', 'username'))[0]).toBe('CONTROL_CHARACTERS');
    expect(codeOf(() => parseOrThrow(Tags, { site: 'lab\u0085' }, 'tags'))).toEqual(['CONTROL_CHARACTERS', 'tags /site: must not contain control characters']);
    // The key is named escaped in the message.
    expect(codeOf(() => parseOrThrow(Tags, { 'si\u001bte': 'lab' }, 'tags'))).toEqual(['CONTROL_CHARACTERS', 'tags /si\\u001bte: must not contain control characters']);
    expect(codeOf(() => parseOrThrow(Username, 'has space', 'username'))[0]).toBe('BAD_REQUEST');
    expect(codeOf(() => parseOrThrow(DeviceName, 'Łódź robot 7', 'name'))).toBe('ok');
  });
});
