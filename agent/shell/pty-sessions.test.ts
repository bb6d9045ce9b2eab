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
