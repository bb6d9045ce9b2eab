import { describe, expect, it } from 'vitest';
import { exitStatusOf, OutputFollower } from './run-output.js';

describe('OutputFollower', () => {
  it('gives only what is new in each snapshot', () => {
    const f = new OutputFollower();
    expect(f.next('', false)).toBe('');
    expect(f.next('hel', false)).toBe('hel');
    expect(f.next('hello\n', false)).toBe('lo\n');
    expect(f.next('hello\n', true)).toBe('');
  });

  it('holds back a character cut in half by a snapshot until the rest arrives', () => {
    const f = new OutputFollower();
    // "é" split between two chunks decodes to U+FFFD in the first snapshot.
    expect(f.next('caf\uFFFD', false)).toBe('caf');
    expect(f.next('café!', false)).toBe('é!');
  });

  it('prints a trailing U+FFFD once the run is final (the bytes really were invalid)', () => {
    const f = new OutputFollower();
    expect(f.next('x\uFFFD', false)).toBe('x');
    expect(f.next('x\uFFFD', true)).toBe('\uFFFD');
  });
});

describe('exitStatusOf', () => {
  const run = { exitCode: null, signal: null, error: null } as const;
  it.each([
    [{ ...run, state: 'succeeded', exitCode: 0 }, 0],
    [{ ...run, state: 'failed', exitCode: 3 }, 3],
    [{ ...run, state: 'failed', signal: 'SIGKILL' }, 137],
    [{ ...run, state: 'failed', error: 'SPAWN_FAILED: Cannot start nope' }, 127],
    [{ ...run, state: 'failed', error: 'DEVICE_OFFLINE: the device disconnected' }, 255],
    [{ ...run, state: 'timed_out', signal: 'SIGTERM' }, 124],
    [{ ...run, state: 'cancelled' }, 130],
  ] as const)('%o → %i', (r, status) => {
    expect(exitStatusOf(r)).toBe(status);
  });
});
