import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import {
  MAX_PROFILES,
  NewBackendProfile,
  ProfileId,
  ProfilesFile,
  TetherError,
  type BackendProfile,
  type ProfileList,
} from '../protocol/index.js';
import { writeFileAtomic } from './atomic-file.js';

/** The backends this desktop knows (URL + CA pin + name) and which one is active, kept in one JSON file. */
export interface ProfileStore {
  list(): ProfileList;
  active(): BackendProfile | null;
  add(profile: unknown): BackendProfile;
  remove(id: unknown): void;
  select(id: unknown): void;
  /** Adds the profile unless one with the same URL and pin exists, and selects it (for `--console-url`). */
  ensureSelected(profile: unknown): BackendProfile;
}

export interface LoadedProfileStore {
  store: ProfileStore;
  /**
   * Set when the file existed but did not parse: it was renamed to `setAsideTo` (never
   * overwritten) and the store started empty. The caller shows this to the user.
   */
  problem: { message: string; setAsideTo: string } | null;
}

const EMPTY: ProfilesFile = { version: 1, activeId: null, profiles: [] };

/** Loads `file` (or starts empty when there is none) and returns the store that keeps it. */
export function loadProfileStore(file: string, options: { newId?: () => string; now?: () => number } = {}): LoadedProfileStore {
  const newId = options.newId ?? (() => `prof_${randomBytes(8).toString('hex')}`);
  const now = options.now ?? Date.now;
  let state: ProfilesFile = EMPTY;
  let problem: LoadedProfileStore['problem'] = null;
  if (existsSync(file)) {
    const parsed = parseProfilesFile(readFileSync(file, 'utf8'));
    if (parsed.ok) {
      state = parsed.file;
    } else {
      const setAsideTo = `${file}.corrupt-${now()}`;
      renameSync(file, setAsideTo);
      problem = { message: `${file} is not a valid profiles file (${parsed.message}); it was moved to ${setAsideTo}`, setAsideTo };
    }
  }

  const save = (next: ProfilesFile): void => {
    // Parse what is written too: a bug here must not write a file the next start refuses.
    const checked = ProfilesFile.parse(next);
    writeFileAtomic(file, `${JSON.stringify(checked, null, 2)}\n`);
    state = checked;
  };
  const find = (id: unknown): BackendProfile => {
    const parsedId = ProfileId.safeParse(id);
    if (!parsedId.success) throw new TetherError('BAD_REQUEST', 'Not a profile id');
    const profile = state.profiles.find((p) => p.id === parsedId.data);
    if (profile === undefined) throw new TetherError('PROFILE_UNKNOWN');
    return profile;
  };
  const add = (input: unknown): BackendProfile => {
    const parsed = NewBackendProfile.safeParse(input);
    if (!parsed.success) throw new TetherError('BAD_REQUEST', `Not a backend profile: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    if (state.profiles.length >= MAX_PROFILES) throw new TetherError('BAD_REQUEST', `At most ${MAX_PROFILES} backend profiles`);
    const profile: BackendProfile = { id: newId(), ...parsed.data };
    // The first profile becomes the active one: there is nothing else to connect to.
    save({ ...state, profiles: [...state.profiles, profile], activeId: state.activeId ?? profile.id });
    return profile;
  };

  const store: ProfileStore = {
    list: () => ({ profiles: [...state.profiles], activeId: state.activeId }),
    active: () => state.profiles.find((p) => p.id === state.activeId) ?? null,
    add,
    remove(id) {
      const profile = find(id);
      save({ ...state, profiles: state.profiles.filter((p) => p !== profile), activeId: state.activeId === profile.id ? null : state.activeId });
    },
    select(id) {
      save({ ...state, activeId: find(id).id });
    },
    ensureSelected(input) {
      const parsed = NewBackendProfile.safeParse(input);
      if (!parsed.success) throw new TetherError('BAD_REQUEST', `Not a backend profile: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      const existing = state.profiles.find((p) => p.url === parsed.data.url && p.caPin === parsed.data.caPin);
      const profile = existing ?? add(parsed.data);
      if (state.activeId !== profile.id) save({ ...state, activeId: profile.id });
      return profile;
    },
  };
  return { store, problem };
}

function parseProfilesFile(text: string): { ok: true; file: ProfilesFile } | { ok: false; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    return { ok: false, message: 'not JSON' };
  }
  const parsed = ProfilesFile.safeParse(json);
  if (!parsed.success) return { ok: false, message: parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ') };
  return { ok: true, file: parsed.data };
}
