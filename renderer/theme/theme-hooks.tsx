import { createContext, useContext, useSyncExternalStore } from 'react';
import { THEME_MODES, type ThemeController, type ThemeMode } from './theme-controller.js';

export const ThemeContext = createContext<ThemeController | null>(null);

/** The saved mode; `system` where no controller is provided (tests rendering other views). */
export function useThemeMode(): ThemeMode {
  const theme = useContext(ThemeContext);
  return useSyncExternalStore(
    (listener) => theme?.subscribe(listener) ?? (() => undefined),
    () => theme?.mode() ?? 'system',
    () => 'system',
  );
}

const LABELS: Record<ThemeMode, string> = { system: 'System', light: 'Light', dark: 'Dark' };

/** The light / dark / system switch in the top bar. */
export function ThemeToggle() {
  const theme = useContext(ThemeContext);
  const mode = useThemeMode();
  if (theme === null) return null;
  return (
    <label className="theme-toggle">
      <span className="visually-hidden">Theme</span>
      <select aria-label="Theme" data-testid="theme-toggle" value={mode} onChange={(e) => theme.setMode(THEME_MODES.find((m) => m === e.target.value) ?? 'system')}>
        {THEME_MODES.map((m) => (
          <option key={m} value={m}>
            {LABELS[m]}
          </option>
        ))}
      </select>
    </label>
  );
}
