import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TetherError } from '../protocol/index.js';
import { loadProfileStore } from './profile-store.js';

const PIN = `sha256:${'ab'.repeat(32)}`;
const OTHER_PIN = `sha256:${'cd'.repeat(32)}`;

let dir: string;
let file: string;
let ids: number;
const newId = () => `prof_${String(++ids).padStart(8, '0')}`;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tether-profiles-'));
  file = join(dir, 'profiles.json');
  ids = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof TetherError ? error.code : 'not a TetherError';
  }
  return undefined;
}

describe('profile store', () => {
  it('starts empty, adds, selects and removes, and keeps it across loads', () => {
    const { store, problem } = loadProfileStore(file, { newId });
    expect(problem).toBeNull();
    expect(store.list()).toEqual({ profiles: [], activeId: null });
    const a = store.add({ name: 'Lab', url: 'https://lab.example:8443/', caPin: PIN });
    expect(a).toEqual({ id: 'prof_00000001', name: 'Lab', url: 'https://lab.example:8443', caPin: PIN });
    expect(store.active()).toEqual(a);
    const b = store.add({ name: 'Field', url: 'https://field.example', caPin: OTHER_PIN });
    expect(store.active()?.id).toBe(a.id);
    store.select(b.id);
    const reloaded = loadProfileStore(file, { newId }).store;
    expect(reloaded.list()).toEqual({ profiles: [a, b], activeId: b.id });
    reloaded.remove(b.id);
    expect(reloaded.list()).toEqual({ profiles: [a], activeId: null });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['http', { name: 'x', url: 'http://lab.example', caPin: PIN }],
    ['a path', { name: 'x', url: 'https://lab.example/console', caPin: PIN }],
    ['credentials', { name: 'x', url: 'https://u:p@lab.example', caPin: PIN }],
    ['a bad pin', { name: 'x', url: 'https://lab.example', caPin: 'sha1:00' }],
    ['no name', { name: ' ', url: 'https://lab.example', caPin: PIN }],
    ['extra fields', { name: 'x', url: 'https://lab.example', caPin: PIN, admin: true }],
    ['not an object', 'https://lab.example'],
  ])('refuses a profile with %s as BAD_REQUEST and writes nothing', (_label, input) => {
    const { store } = loadProfileStore(file, { newId });
    expect(codeOf(() => store.add(input))).toBe('BAD_REQUEST');
    expect(existsSync(file)).toBe(false);
  });

  it('answers PROFILE_UNKNOWN / BAD_REQUEST for ids it does not hold', () => {
    const { store } = loadProfileStore(file, { newId });
    expect(codeOf(() => store.select('prof_99999999'))).toBe('PROFILE_UNKNOWN');
    expect(codeOf(() => store.remove('../../etc'))).toBe('BAD_REQUEST');
  });

  it('reuses a profile with the same URL and pin when the launcher names one', () => {
    const { store } = loadProfileStore(file, { newId });
    const first = store.ensureSelected({ name: 'Local', url: 'https://127.0.0.1:8443', caPin: PIN });
    store.add({ name: 'Other', url: 'https://other.example', caPin: PIN });
    expect(store.ensureSelected({ name: 'Local again', url: 'https://127.0.0.1:8443/', caPin: PIN })).toEqual(first);
    expect(store.list().profiles).toHaveLength(2);
    // Same URL, another CA: another backend as far as trust goes.
    expect(store.ensureSelected({ name: 'Local', url: 'https://127.0.0.1:8443', caPin: OTHER_PIN }).id).not.toBe(first.id);
  });

  it.each([
    ['not JSON', '{"version":1,'],
    ['another shape', JSON.stringify({ version: 2, profiles: [] })],
    ['an active id that is not listed', JSON.stringify({ version: 1, activeId: 'prof_00000009', profiles: [] })],
    ['an http backend', JSON.stringify({ version: 1, activeId: null, profiles: [{ id: 'prof_00000001', name: 'x', url: 'http://a.example', caPin: PIN }] })],
  ])('reports a file with %s, sets it aside untouched and starts empty', (_label, text) => {
    writeFileSync(file, text);
    const { store, problem } = loadProfileStore(file, { newId, now: () => 1234 });
    expect(problem?.setAsideTo).toBe(`${file}.corrupt-1234`);
    expect(problem?.message).toMatch(/not a valid profiles file/);
    expect(readFileSync(`${file}.corrupt-1234`, 'utf8')).toBe(text);
    expect(store.list()).toEqual({ profiles: [], activeId: null });
    store.add({ name: 'New', url: 'https://new.example', caPin: PIN });
    expect(readFileSync(`${file}.corrupt-1234`, 'utf8')).toBe(text);
    expect(readdirSync(dir).sort()).toEqual(['profiles.json', 'profiles.json.corrupt-1234']);
  });
});
