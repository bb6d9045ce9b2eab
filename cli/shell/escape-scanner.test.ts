import { describe, expect, it } from 'vitest';
import { EscapeScanner, type EscapeAction } from './escape-scanner.js';

function scan(scanner: EscapeScanner, text: string): Array<string | { type: string }> {
  return scanner.scan(Buffer.from(text)).map((a: EscapeAction) => (a.type === 'send' ? a.data.toString() : { type: a.type }));
}

describe('EscapeScanner (ssh escapes)', () => {
  it('~. at the very start leaves', () => {
    expect(scan(new EscapeScanner(), '~.')).toEqual([{ type: 'leave' }]);
  });

  it('~. after Enter leaves, and what came before is sent first', () => {
    expect(scan(new EscapeScanner(), 'ls\r~.')).toEqual(['ls\r', { type: 'leave' }]);
  });

  it('~. split across reads still leaves', () => {
    const s = new EscapeScanner();
    expect(scan(s, 'echo\r~')).toEqual(['echo\r']);
    expect(scan(s, '.')).toEqual([{ type: 'leave' }]);
  });

  it('a ~ inside a line is plain input', () => {
    expect(scan(new EscapeScanner(), 'cd ~.')).toEqual(['cd ~.']);
  });

  it('~~ sends one ~; ~ before another key sends both', () => {
    const s = new EscapeScanner();
    expect(scan(s, '~~.')).toEqual(['~.']);
    expect(scan(new EscapeScanner(), '~/bin')).toEqual(['~/bin']);
  });

  it('~? asks for help and the line start stays', () => {
    expect(scan(new EscapeScanner(), '~?~.')).toEqual([{ type: 'help' }, { type: 'leave' }]);
  });
});
