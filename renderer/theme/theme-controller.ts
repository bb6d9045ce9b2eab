/** The user's choice; `system` follows `prefers-color-scheme`. */
export type ThemeMode = 'light' | 'dark' | 'system';
export type ResolvedTheme = 'light' | 'dark';
export const THEME_MODES: readonly ThemeMode[] = ['system', 'light', 'dark'];

/** localStorage key of the saved mode. */
export const THEME_STORAGE_KEY = 'tether.theme';

export interface ThemeController {
  mode(): ThemeMode;
  resolved(): ResolvedTheme;
  setMode(mode: ThemeMode): void;
  /** Called after every change of mode or of the system preference. */
  subscribe(listener: () => void): () => void;
}

export interface ThemeEnvironment {
  storage: Pick<Storage, 'getItem' | 'setItem'> | null;
  /** `matchMedia('(prefers-color-scheme: dark)')`. */
  systemDark: { matches: boolean; addEventListener(type: 'change', listener: () => void): void } | null;
  /** Where the resolved theme is written as `data-theme` (the <html> element). */
  root: { dataset: Record<string, string | undefined>; style: { colorScheme: string } };
}

export function parseThemeMode(value: string | null): ThemeMode {
  return value === 'light' || value === 'dark' || value === 'system' ? value : 'system';
}

/**
 * Resolves and applies the theme: `data-theme="light|dark"` on the root, which the CSS custom
 * properties key on. A saved mode survives reloads; `system` tracks the OS setting live.
 */
export function createThemeController(env: ThemeEnvironment): ThemeController {
  const listeners = new Set<() => void>();
  let mode = parseThemeMode(safeRead(env.storage));
  const resolved = (): ResolvedTheme => (mode === 'system' ? (env.systemDark?.matches === true ? 'dark' : 'light') : mode);
  const apply = (): void => {
    const theme = resolved();
    env.root.dataset.theme = theme;
    env.root.dataset.themeMode = mode;
    env.root.style.colorScheme = theme;
    for (const listener of listeners) listener();
  };
  env.systemDark?.addEventListener('change', () => {
    if (mode === 'system') apply();
  });
  apply();
  return {
    mode: () => mode,
    resolved,
    setMode(next) {
      mode = next;
      try {
        env.storage?.setItem(THEME_STORAGE_KEY, next);
      } catch {
        // Storage may be full or denied (private mode): the choice still holds for this page.
      }
      apply();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function safeRead(storage: ThemeEnvironment['storage']): string | null {
  try {
    return storage?.getItem(THEME_STORAGE_KEY) ?? null;
  } catch {
    return null;
  }
}
