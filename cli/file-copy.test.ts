import { describe, expect, it } from 'vitest';
import { downloadPartPath, parseRemote, uploadTransferId } from './file-copy.js';
import { TransferId } from '../protocol/index.js';

describe('tether cp arguments', () => {
  it('reads DEVICE:/path as remote and anything else as local', () => {
    expect(parseRemote('robot-1:/var/log/syslog')).toEqual({ device: 'robot-1', path: '/var/log/syslog' });
    expect(parseRemote('dev_abcdefghijklmnopqrst:/tmp/a:b')).toEqual({ device: 'dev_abcdefghijklmnopqrst', path: '/tmp/a:b' });
    expect(parseRemote('./robot:/x')).toBeNull();
    expect(parseRemote('/home/me/file:1')).toBeNull();
    expect(parseRemote('plain.txt')).toBeNull();
    expect(() => parseRemote('robot:relative/path')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });

  it('names an upload by device, path and content, so the same copy resumes', () => {
    const id = uploadTransferId('dev_x', '/tmp/a', 'f'.repeat(64), 10);
    expect(TransferId.safeParse(id).success).toBe(true);
    expect(uploadTransferId('dev_x', '/tmp/a', 'f'.repeat(64), 10)).toBe(id);
    // The console derives the same id with Web Crypto (renderer/files/files-store.test.ts).
    expect(id).toBe('69da6b1cac6f93c6a47935cba189efec');
    expect(uploadTransferId('dev_x', '/tmp/b', 'f'.repeat(64), 10)).not.toBe(id);
    expect(uploadTransferId('dev_x', '/tmp/a', 'e'.repeat(64), 10)).not.toBe(id);
    expect(downloadPartPath('/home/me/a.bin')).toBe('/home/me/a.bin.tether-part');
  });
});
