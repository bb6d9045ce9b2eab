import type { MenuItemConstructorOptions } from 'electron';
import type { ProfileList } from '../protocol/index.js';

export interface MenuActions {
  selectProfile(id: string): void;
  /** Opens the console's profile view (add or remove a backend). */
  manageProfiles(): void;
  about(): void;
}

/**
 * The application menu. Developer tools and reload-ignoring-cache exist only in development:
 * in a release they would let anyone at the keyboard run script in the console's origin.
 */
export function applicationMenuTemplate(options: { isDev: boolean; platform: NodeJS.Platform; profiles: ProfileList; actions: MenuActions }): MenuItemConstructorOptions[] {
  const { isDev, platform, profiles, actions } = options;
  const mac = platform === 'darwin';
  const profileItems: MenuItemConstructorOptions[] =
    profiles.profiles.length === 0
      ? [{ label: 'No backends yet', enabled: false }]
      : profiles.profiles.map((profile) => ({
          label: `${profile.name} (${new URL(profile.url).host})`,
          type: 'radio',
          checked: profile.id === profiles.activeId,
          click: () => actions.selectProfile(profile.id),
        }));
  const file: MenuItemConstructorOptions = {
    label: 'File',
    submenu: [
      { label: 'Backend', submenu: profileItems },
      { label: 'Manage Backends…', click: () => actions.manageProfiles() },
      { type: 'separator' },
      mac ? { role: 'close' } : { role: 'quit' },
    ],
  };
  const view: MenuItemConstructorOptions = {
    label: 'View',
    submenu: [
      { role: 'reload' },
      ...(isDev ? ([{ role: 'forceReload' }, { role: 'toggleDevTools' }] as const) : []),
      { type: 'separator' },
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
    ],
  };
  const help: MenuItemConstructorOptions = { role: 'help', submenu: [{ label: 'About Tether', click: () => actions.about() }] };
  return [...(mac ? [{ role: 'appMenu' } as const] : []), file, { role: 'editMenu' }, view, { role: 'windowMenu' }, help];
}
