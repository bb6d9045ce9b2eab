import { describe, expect, it } from 'vitest';
import { TetherError, type User } from '../../protocol/index.js';
import { DeviceAccess } from './device-access.js';

const tags: Record<string, Record<string, string>> = {
  dev_berlin: { site: 'berlin', env: 'prod' },
  dev_paris: { site: 'paris', env: 'prod' },
};
const access = new DeviceAccess({ tagsOf: (id) => tags[id] });
const everyone: User = { id: 1, username: 'a', role: 'admin', scope: null };
const berlin: User = { id: 2, username: 'b', role: 'operator', scope: { site: 'berlin', env: 'prod' } };

function code(action: () => void): string {
  try {
    action();
    return 'ok';
  } catch (err) {
    return err instanceof TetherError ? err.code : 'thrown';
  }
}

describe('DeviceAccess', () => {
  it('lets a scoped user reach devices carrying every scope tag, and answers NOT_FOUND alike for out of scope and unknown', () => {
    expect(code(() => access.require(berlin, 'dev_berlin'))).toBe('ok');
    expect(code(() => access.require(berlin, 'dev_paris'))).toBe('NOT_FOUND');
    expect(code(() => access.require(berlin, 'dev_nowhere'))).toBe('NOT_FOUND');
  });

  it('leaves unscoped users as they were: every device, DEVICE_UNKNOWN for an unknown id', () => {
    expect(code(() => access.require(everyone, 'dev_paris'))).toBe('ok');
    expect(code(() => access.require(everyone, 'dev_nowhere'))).toBe('DEVICE_UNKNOWN');
  });

  it('filters lists to the scope', () => {
    const items = [{ deviceId: 'dev_berlin' }, { deviceId: 'dev_paris' }, { deviceId: 'dev_gone' }];
    expect(access.filter(berlin, items, (i) => i.deviceId)).toEqual([{ deviceId: 'dev_berlin' }]);
    expect(access.filter(everyone, items, (i) => i.deviceId)).toEqual(items);
    expect(access.filter({ ...berlin, scope: { site: 'berlin', env: 'dev' } }, items, (i) => i.deviceId)).toEqual([]);
  });
});
