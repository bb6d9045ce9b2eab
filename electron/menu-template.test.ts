import type { MenuItemConstructorOptions } from 'electron';
import { describe, expect, it, vi } from 'vitest';
import { applicationMenuTemplate } from './menu-template.js';

const PIN = `sha256:${'ab'.repeat(32)}`;
const PROFILES = {
  profiles: [
    { id: 'prof_aaaaaaaa', name: 'Lab', url: 'https://lab.example:8443', caPin: PIN },
    { id: 'prof_bbbbbbbb', name: 'Field', url: 'https://field.example', caPin: PIN },
  ],
  activeId: 'prof_bbbbbbbb',
};

/** Every item, depth first, so a role can be looked for anywhere. */
function items(template: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] {
  return template.flatMap((item) => [item, ...(Array.isArray(item.submenu) ? items(item.submenu) : [])]);
}
const roles = (template: MenuItemConstructorOptions[]) => items(template).map((i) => i.role).filter(Boolean);
const actions = () => ({ selectProfile: vi.fn(), manageProfiles: vi.fn(), about: vi.fn() });

describe('applicationMenuTemplate', () => {
  it('has File, Edit, View, Window and Help, with quit, reload and zoom', () => {
    const template = applicationMenuTemplate({ isDev: false, platform: 'linux', profiles: PROFILES, actions: actions() });
    expect(template.map((i) => i.label ?? i.role)).toEqual(['File', 'editMenu', 'View', 'windowMenu', 'help']);
    expect(roles(template)).toEqual(expect.arrayContaining(['quit', 'reload', 'zoomIn', 'zoomOut', 'resetZoom', 'togglefullscreen']));
  });

  it('offers developer tools only in development', () => {
    expect(roles(applicationMenuTemplate({ isDev: false, platform: 'linux', profiles: PROFILES, actions: actions() }))).not.toContain('toggleDevTools');
    expect(roles(applicationMenuTemplate({ isDev: false, platform: 'linux', profiles: PROFILES, actions: actions() }))).not.toContain('forceReload');
    expect(roles(applicationMenuTemplate({ isDev: true, platform: 'linux', profiles: PROFILES, actions: actions() }))).toContain('toggleDevTools');
  });

  it('lists the profiles as radio items, the active one checked, and selects on click', () => {
    const a = actions();
    const all = items(applicationMenuTemplate({ isDev: false, platform: 'win32', profiles: PROFILES, actions: a }));
    const radios = all.filter((i) => i.type === 'radio');
    expect(radios.map((i) => [i.label, i.checked])).toEqual([['Lab (lab.example:8443)', false], ['Field (field.example)', true]]);
    (radios[0]?.click as () => void)();
    expect(a.selectProfile).toHaveBeenCalledWith('prof_aaaaaaaa');
    (all.find((i) => i.label === 'About Tether')?.click as () => void)();
    expect(a.about).toHaveBeenCalledOnce();
  });

  it('uses the macOS app menu there', () => {
    const template = applicationMenuTemplate({ isDev: false, platform: 'darwin', profiles: { profiles: [], activeId: null }, actions: actions() });
    expect(template[0]?.role).toBe('appMenu');
    expect(items(template).some((i) => i.label === 'No backends yet' && i.enabled === false)).toBe(true);
  });
});
