import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PtySessions } from './pty-sessions.js';

describe('PtySessions', () => {
  it('opens new sessions with a changed shell configuration (agent settings apply without a restart)', async () => {
    const output = new Map<number, string>();
    const sessions = new PtySessions({
      config: { shell: '/bin/sh', args: [], cwd: '/' },
      send: (id, data) => {
        output.set(id, (output.get(id) ?? '') + Buffer.from(data).toString());
        return true;
      },
      emitExit: () => undefined,
      log: pino({ level: 'silent' }),
    });
    expect(sessions.open({ streamId: 1, cols: 80, rows: 24 })).toMatchObject({ shell: '/bin/sh' });
    sessions.setConfig({ shell: '/bin/bash', args: ['--norc', '--noprofile'], cwd: '/tmp' });
    expect(sessions.open({ streamId: 2, cols: 80, rows: 24 })).toMatchObject({ shell: '/bin/bash' });
    sessions.write(2, Buffer.from('pwd\r'));
    await expect.poll(() => output.get(2) ?? '', { timeout: 5_000 }).toContain('/tmp');
    sessions.close(1);
    sessions.close(2);
  });
});

describe('PtySessions across a dropped control channel', () => {
  const SESSION = '4f0c4c39-2f0e-4b0e-9d56-4a8b8f3c2a11';

  function harness(detachedGraceMs = 10_000) {
    const sent: Array<{ id: number; data: Buffer }> = [];
    const exits: Array<{ id: number; exitCode: number | null }> = [];
    let up = true;
    const sessions = new PtySessions({
      config: { shell: '/bin/sh', args: [], cwd: '/' },
      send: (id, data) => {
        if (up) sent.push({ id, data: Buffer.from(data) });
        return up;
      },
      emitExit: (id, exitCode) => void exits.push({ id, exitCode }),
      log: pino({ level: 'silent' }),
      detachedGraceMs,
    });
    const text = (id: number) => Buffer.concat(sent.filter((s) => s.id === id).map((s) => s.data)).toString();
    return { sessions, sent, exits, text, setUp: (value: boolean) => (up = value) };
  }

  it('keeps a session opened with a backend session id, and resends from what the backend has on reattach', async () => {
    const h = harness();
    h.sessions.open({ streamId: 1, cols: 80, rows: 24, sessionId: SESSION });
    h.sessions.write(1, Buffer.from('echo before-$((1+1))\r'));
    await expect.poll(() => h.text(1), { timeout: 5_000 }).toContain('before-2');
    const received = h.sent.reduce((n, s) => n + s.data.length, 0);
    h.sessions.ack(1, received);

    // The channel drops; the shell keeps running and its output is kept.
    h.setUp(false);
    h.sessions.detachAll();
    expect(h.sessions.size).toBe(1);
    h.sessions.write(1, Buffer.from('lost keystrokes'));
    expect(() => h.sessions.resize({ streamId: 1, cols: 100, rows: 30 })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));

    // Through the next channel, on another stream id.
    h.setUp(true);
    expect(() => h.sessions.reattach({ sessionId: SESSION, streamId: 9, received: received + 1, acked: received })).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(() => h.sessions.reattach({ sessionId: '00000000-0000-4000-8000-000000000000', streamId: 9, received, acked: received })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(h.sessions.reattach({ sessionId: SESSION, streamId: 9, received, acked: received })).toMatchObject({ resent: 0 });
    h.sessions.write(9, Buffer.from('\x15echo after-$((2+2))\r'));
    await expect.poll(() => h.text(9), { timeout: 5_000 }).toContain('after-4');
    h.sessions.write(9, Buffer.from('exit 3\r'));
    await expect.poll(() => h.exits, { timeout: 5_000 }).toEqual([{ id: 9, exitCode: 3 }]);
    expect(h.sessions.size).toBe(0);
  });

  it('resends output the backend never got, reports an exit that happened while detached, and ends sessions nobody reattaches', async () => {
    const h = harness(300);
    h.sessions.open({ streamId: 1, cols: 80, rows: 24, sessionId: SESSION });
    h.sessions.open({ streamId: 2, cols: 80, rows: 24 });
    await expect.poll(() => h.text(1).length, { timeout: 5_000 }).toBeGreaterThan(0);
    const received = h.sent.filter((s) => s.id === 1).reduce((n, s) => n + s.data.length, 0);
    // The backend loses bytes in flight: the channel drops just as the shell prints and exits.
    h.setUp(false);
    h.sessions.write(1, Buffer.from('echo while-detached; exit 5\r'));
    h.sessions.detachAll();
    // Without a session id the session ends with the channel.
    expect(h.sessions.size).toBe(1);
    await new Promise((r) => setTimeout(r, 150));
    h.setUp(true);
    const { resent } = h.sessions.reattach({ sessionId: SESSION, streamId: 4, received, acked: 0 });
    expect(resent).toBeGreaterThan(0);
    await expect.poll(() => h.text(4), { timeout: 5_000 }).toContain('while-detached');
    await expect.poll(() => h.exits, { timeout: 5_000 }).toEqual([{ id: 4, exitCode: 5 }]);

    // A detached session nobody reattaches ends after the grace.
    h.sessions.open({ streamId: 5, cols: 80, rows: 24, sessionId: SESSION });
    h.sessions.detachAll();
    await expect.poll(() => h.sessions.size, { timeout: 5_000 }).toBe(0);
    expect(() => h.sessions.reattach({ sessionId: SESSION, streamId: 6, received: 0, acked: 0 })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});
