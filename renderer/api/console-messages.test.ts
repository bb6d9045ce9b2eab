import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_CONSOLE_FRAME_CHARS, parseConsoleMessage } from './console-messages.js';

describe('parseConsoleMessage', () => {
  afterEach(() => vi.restoreAllMocks());

  it('parses a valid message', () => {
    const frame = JSON.stringify({ type: 'device.status', id: 'dev_aaaaaaaaaaaaaaaaaaaa', online: false, lastSeen: 5 });
    expect(parseConsoleMessage(frame)).toEqual({ type: 'device.status', id: 'dev_aaaaaaaaaaaaaaaaaaaa', online: false, lastSeen: 5 });
  });

  it.each([
    ['a binary frame', new ArrayBuffer(4)],
    ['text that is not JSON', '{nope'],
    ['an unknown type', JSON.stringify({ type: 'device.exploded', id: 'dev_aaaaaaaaaaaaaaaaaaaa' })],
    ['a known type with a bad field', JSON.stringify({ type: 'device.status', id: 'not-an-id', online: true, lastSeen: null })],
    ['an oversized frame', `"${'x'.repeat(MAX_CONSOLE_FRAME_CHARS)}"`],
  ])('ignores and logs %s', (_label, data) => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(parseConsoleMessage(data)).toBeNull();
    expect(warn).toHaveBeenCalledOnce();
  });
});
