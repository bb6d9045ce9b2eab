import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenStore, keychainCipher, type TokenCipher } from './token-store.js';

/**
 * Stands in for the OS keychain behind Electron's safeStorage (Keychain, DPAPI, libsecret),
 * which cannot run here: a reversible XOR "encryption" with a marker, so the tests can see
 * that what reaches the disk is the cipher's output and never the token.
 */
function fakeKeychain(available = true): TokenCipher & { key: number } {
  const cipher = {
    key: 0x5a,
    isEncryptionAvailable: () => available,
    encryptString: (text: string) => Buffer.concat([Buffer.from('FAKE'), Buffer.from(text).map((b) => b ^ cipher.key)]),
    decryptString: (sealed: Buffer) => {
      if (sealed.subarray(0, 4).toString() !== 'FAKE') throw new Error('not ours');
      return Buffer.from(sealed.subarray(4).map((b) => b ^ cipher.key)).toString();
    },
  };
  return cipher;
}

const A = 'prof_aaaaaaaa';
const B = 'prof_bbbbbbbb';
const TOKEN = 'tok_secret_value_123';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tether-tokens-'));
  file = join(dir, 'session-tokens.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('token store with the keychain available', () => {
  it('writes only cipher text, owner-only, and reads it back after a restart', () => {
    const warn = vi.fn();
    const store = createTokenStore({ file, cipher: fakeKeychain(), warn });
    store.set(A, TOKEN);
    expect(store.storage()).toBe('encrypted');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(TOKEN);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const restarted = createTokenStore({ file, cipher: fakeKeychain(), warn });
    expect(restarted.get(A)).toBe(TOKEN);
    expect(restarted.get(B)).toBeNull();
    expect(warn).not.toHaveBeenCalled();
  });

  it('keeps profiles apart and clears one', () => {
    const store = createTokenStore({ file, cipher: fakeKeychain(), warn: vi.fn() });
    store.set(A, 'a-token');
    store.set(B, 'b-token');
    store.clear(A);
    const restarted = createTokenStore({ file, cipher: fakeKeychain(), warn: vi.fn() });
    expect([restarted.get(A), restarted.get(B)]).toEqual([null, 'b-token']);
  });

  it('drops a token the keychain can no longer open', () => {
    createTokenStore({ file, cipher: fakeKeychain(), warn: vi.fn() }).set(A, TOKEN);
    const other = fakeKeychain();
    other.decryptString = () => {
      throw new Error('wrong key');
    };
    const store = createTokenStore({ file, cipher: other, warn: vi.fn() });
    expect(store.get(A)).toBeNull();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, tokens: {} });
  });

  it('says so and starts over when the token file is corrupt', () => {
    writeFileSync(file, '{"version":1,"tokens":{"prof_aaaaaaaa":"not base64!"}}');
    const warn = vi.fn();
    const store = createTokenStore({ file, cipher: fakeKeychain(), warn });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/not a valid token file/));
    expect(store.get(A)).toBeNull();
  });
});

describe('token store without OS encryption', () => {
  it('keeps the token in memory only, never on disk, and says why', () => {
    const warn = vi.fn();
    const cipher = fakeKeychain(false);
    const encrypt = vi.spyOn(cipher, 'encryptString');
    const store = createTokenStore({ file, cipher, warn });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/memory only/));
    expect(store.storage()).toBe('memory');
    store.set(A, TOKEN);
    expect(store.get(A)).toBe(TOKEN);
    expect(existsSync(file)).toBe(false);
    expect(encrypt).not.toHaveBeenCalled();
    expect(createTokenStore({ file, cipher, warn }).get(A)).toBeNull();
  });

  it('ignores a token file written while a keyring was available', () => {
    createTokenStore({ file, cipher: fakeKeychain(), warn: vi.fn() }).set(A, TOKEN);
    expect(createTokenStore({ file, cipher: fakeKeychain(false), warn: vi.fn() }).get(A)).toBeNull();
  });
});

describe('keychainCipher', () => {
  const safeStorage = (available: boolean, backend: string) => ({ ...fakeKeychain(available), getSelectedStorageBackend: () => backend });

  it("counts Linux's hard-coded-key fallback as no encryption", () => {
    expect(keychainCipher(safeStorage(true, 'basic_text'), 'linux').isEncryptionAvailable()).toBe(false);
    expect(keychainCipher(safeStorage(true, 'gnome_libsecret'), 'linux').isEncryptionAvailable()).toBe(true);
    expect(keychainCipher(safeStorage(false, 'gnome_libsecret'), 'linux').isEncryptionAvailable()).toBe(false);
    expect(keychainCipher(safeStorage(true, 'unknown'), 'darwin').isEncryptionAvailable()).toBe(true);
  });
});
