import { describe, expect, it, vi } from 'vitest';
import { THEME_STORAGE_KEY, createThemeController, type ThemeEnvironment } from './theme-controller.js';

function environment(saved: string | null, systemDark: boolean) {
  const store = new Map<string, string>(saved === null ? [] : [[THEME_STORAGE_KEY, saved]]);
  const changeListeners: Array<() => void> = [];
  const media = { matches: systemDark, addEventListener: (_: 'change', l: () => void) => void changeListeners.push(l) };
  const env: ThemeEnvironment = {
    storage: { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => void store.set(k, v) },
    systemDark: media,
    root: { dataset: {}, style: { colorScheme: '' } },
  };
  return { env, store, media, systemChanged: () => changeListeners.forEach((l) => l()) };
}

describe('theme controller', () => {
  it('follows the system by default and tracks its changes', () => {
    const { env, media, systemChanged } = environment(null, true);
    const theme = createThemeController(env);
    expect(theme.mode()).toBe('system');
    expect(env.root.dataset.theme).toBe('dark');
    media.matches = false;
    systemChanged();
    expect(env.root.dataset.theme).toBe('light');
    expect(env.root.style.colorScheme).toBe('light');
  });

  it('applies and saves a chosen mode, which then ignores the system', () => {
    const { env, store, media, systemChanged } = environment(null, false);
    const theme = createThemeController(env);
    const listener = vi.fn();
    theme.subscribe(listener);
    theme.setMode('dark');
    expect(env.root.dataset.theme).toBe('dark');
    expect(store.get(THEME_STORAGE_KEY)).toBe('dark');
    expect(listener).toHaveBeenCalledTimes(1);
    theme.setMode('light');
    media.matches = true;
    systemChanged();
    expect(env.root.dataset.theme).toBe('light');
  });

  it('restores a saved mode and treats a bad value or broken storage as system', () => {
    expect(createThemeController(environment('light', true).env).resolved()).toBe('light');
    expect(createThemeController(environment('purple', true).env).mode()).toBe('system');
    const { env } = environment(null, false);
    env.storage = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('denied'); } };
    const theme = createThemeController(env);
    theme.setMode('dark');
    expect(env.root.dataset.theme).toBe('dark');
  });
});
