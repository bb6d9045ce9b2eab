import { existsSync, readFileSync } from 'node:fs';
import { TokensFile, type ProfileId } from '../protocol/index.js';
import { writeFileAtomic } from './atomic-file.js';

/**
 * The OS keychain behind Electron's `safeStorage` (Keychain, DPAPI, libsecret/kwallet);
 * `safeStorage` itself satisfies this interface. Tests pass a fake.
 */
export interface TokenCipher {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
}

/** Each backend profile's session token. */
export interface TokenStore {
  get(profileId: ProfileId): string | null;
  set(profileId: ProfileId, token: string): void;
  clear(profileId: ProfileId): void;
  /** Whether tokens survive a restart (`encrypted`) or live in memory only. */
  storage(): 'encrypted' | 'memory';
}

export interface TokenStoreOptions {
  file: string;
  cipher: TokenCipher;
  /** Told once why tokens are kept in memory only, or that the file was unreadable. */
  warn: (message: string) => void;
}

/**
 * Tokens encrypted with the OS keychain and written to `file`. Without encryption (Linux with
 * no keyring: `safeStorage` would fall back to a hard-coded key) the token is never written in
 * clear: it is kept in memory and the user signs in again after a restart.
 */
export function createTokenStore(options: TokenStoreOptions): TokenStore {
  const { file, cipher, warn } = options;
  const memory = new Map<string, string>();
  const encrypted = cipher.isEncryptionAvailable();
  if (!encrypted) warn('The OS offers no credential encryption (no keyring?): session tokens are kept in memory only, so you will sign in again after a restart.');

  let onDisk: Record<string, string> = {};
  if (encrypted && existsSync(file)) {
    try {
      onDisk = { ...TokensFile.parse(JSON.parse(readFileSync(file, 'utf8')) as unknown).tokens };
    } catch {
      // Only tokens are lost: the user signs in again, and the next write replaces the file.
      warn(`${file} is not a valid token file; its sessions are forgotten.`);
    }
  }
  const save = (): void => writeFileAtomic(file, `${JSON.stringify(TokensFile.parse({ version: 1, tokens: onDisk }))}\n`);

  return {
    get(profileId) {
      const cached = memory.get(profileId);
      if (cached !== undefined || !encrypted) return cached ?? null;
      const sealed = onDisk[profileId];
      if (sealed === undefined) return null;
      try {
        const token = cipher.decryptString(Buffer.from(sealed, 'base64'));
        memory.set(profileId, token);
        return token;
      } catch {
        // Another OS user's or a reset keychain's cipher text: useless, so dropped.
        delete onDisk[profileId];
        save();
        return null;
      }
    },
    set(profileId, token) {
      memory.set(profileId, token);
      if (!encrypted) return;
      onDisk[profileId] = cipher.encryptString(token).toString('base64');
      save();
    },
    clear(profileId) {
      memory.delete(profileId);
      if (!encrypted || onDisk[profileId] === undefined) return;
      delete onDisk[profileId];
      save();
    },
    storage: () => (encrypted ? 'encrypted' : 'memory'),
  };
}

/** The parts of Electron's `safeStorage` used to build the cipher. */
export interface SafeStorageLike extends TokenCipher {
  getSelectedStorageBackend?(): string;
}

/**
 * Electron's `safeStorage` as a {@link TokenCipher}. On Linux without a secret service it says
 * encryption is available but uses a hard-coded key (`basic_text`): that is clear text with
 * extra steps, so it counts as unavailable here.
 */
export function keychainCipher(safeStorage: SafeStorageLike, platform: NodeJS.Platform): TokenCipher {
  return {
    isEncryptionAvailable: () =>
      safeStorage.isEncryptionAvailable() && !(platform === 'linux' && safeStorage.getSelectedStorageBackend?.() === 'basic_text'),
    encryptString: (text) => safeStorage.encryptString(text),
    decryptString: (sealed) => safeStorage.decryptString(sealed),
  };
}
