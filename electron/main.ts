import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, net, Notification, protocol, safeStorage, screen, session, shell } from 'electron';
import { TetherError, type BackendEndpoint, type DesktopHandlers } from '../protocol/index.js';
import { APP_INDEX_URL, APP_SCHEME, APP_SCHEME_PRIVILEGES, createAppProtocolHandler } from './app-protocol.js';
import { appPaths } from './app-paths.js';
import { backendSocketHeaders, createBackendProxy } from './backend-proxy.js';
import { desktopCsp, webSocketOrigin } from './csp.js';
import { createDesktopChannels } from './desktop-ipc.js';
import { createForwardDial, fetchPinnedCaPem } from './forwards/forward-dial.js';
import { ForwardManager } from './forwards/forward-manager.js';
import { launchProfile } from './launch-options.js';
import { applicationMenuTemplate } from './menu-template.js';
import { installNavigationGuards, isExternalWebLink } from './navigation.js';
import { verifyBackendCertificate } from './pinned-certificate.js';
import { loadProfileStore } from './profile-store.js';
import { createTokenStore, keychainCipher } from './token-store.js';
import { restoreWindowBounds, windowStateToSave } from './window-bounds.js';
import { CONSOLE_DEFAULT_SIZE, CONSOLE_MIN_SIZE, consoleWindowOptions, terminalWindowOptions } from './window-options.js';
import { readWindowState, writeWindowState } from './window-state-file.js';

// The desktop shell's composition root: builds the stores, hardens the session, registers the
// app:// protocol and every IPC channel, and opens the windows. Every decision lives in the
// modules above, which have tests that run without Electron.

const launch = launchProfile(process.argv, process.env);
if (!launch.ok) {
  console.error(launch.message);
  process.exit(2);
}
const { preload, bundleDir } = appPaths(fileURLToPath(import.meta.url));
// Tests (and anyone keeping two setups apart) give each run its own profiles, tokens and window state.
if (process.env.TETHER_DESKTOP_USER_DATA) app.setPath('userData', process.env.TETHER_DESKTOP_USER_DATA);
const isDev = !app.isPackaged;

// Must happen before `ready`: a standard, secure scheme gets a real origin, fetch and CSP 'self'.
protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
// Every renderer sandboxed, whatever options a window is given.
app.enableSandbox();

const openExternal = (url: string): void => {
  if (!isExternalWebLink(url)) return;
  shell.openExternal(url).catch((error: unknown) => console.warn('cannot open', url, error));
};
app.on('web-contents-created', (_event, contents) => installNavigationGuards(contents, APP_INDEX_URL, openExternal));
app.on('window-all-closed', () => app.quit());

async function start(): Promise<void> {
  const userData = app.getPath('userData');
  const { store: profiles, problem } = loadProfileStore(join(userData, 'profiles.json'));
  if (problem !== null) {
    console.error(problem.message);
    dialog.showErrorBox('Backend profiles could not be read', problem.message);
  }
  if (launch.ok && launch.profile !== null) profiles.ensureSelected(launch.profile);
  const tokens = createTokenStore({
    file: join(userData, 'session-tokens.json'),
    cipher: keychainCipher(safeStorage, process.platform),
    warn: (message) => console.warn(message),
  });

  const endpoint = (): BackendEndpoint | null => {
    const active = profiles.active();
    return active === null ? null : { profileId: active.id, name: active.name, httpOrigin: active.url, wsOrigin: webSocketOrigin(active.url) };
  };

  const ses = session.defaultSession;
  // The page asks for no camera, microphone, location or web notifications (alerts use the main process).
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setCertificateVerifyProc((request, callback) => callback(verifyBackendCertificate(request, profiles.active())));
  ses.webRequest.onBeforeSendHeaders({ urls: ['wss://*/*'] }, (details, callback) => {
    const active = profiles.active();
    callback({ requestHeaders: backendSocketHeaders(details.url, details.requestHeaders, active, active === null ? null : tokens.get(active.id)) });
  });
  protocol.handle(
    APP_SCHEME,
    createAppProtocolHandler({
      bundleDir,
      csp: () => desktopCsp(endpoint()),
      proxy: createBackendProxy({ activeProfile: () => profiles.active(), tokens, fetch: (url, init) => net.fetch(url, init) }),
    }),
  );

  // TCP forwards of the device pages: listeners live here, the logic in electron/forwards/.
  const caPems = new Map<string, string>();
  const forwards = new ForwardManager(createForwardDial({ activeProfile: () => profiles.active(), token: (id) => tokens.get(id), caPem: (id) => caPems.get(id) }));
  app.on('will-quit', () => void forwards.stopAll());

  const windows = new Set<BrowserWindow>();
  const openWindow = (window: BrowserWindow, url: string): BrowserWindow => {
    windows.add(window);
    window.on('closed', () => windows.delete(window));
    window.once('ready-to-show', () => window.show());
    window.loadURL(url).catch((error: unknown) => console.error(`cannot load ${url}:`, error));
    return window;
  };
  const reloadAll = (): void => {
    for (const window of windows) window.webContents.reload();
  };
  const refreshMenu = (): void => {
    Menu.setApplicationMenu(
      Menu.buildFromTemplate(
        applicationMenuTemplate({
          isDev,
          platform: process.platform,
          profiles: profiles.list(),
          actions: {
            selectProfile: (id) => handlers.profiles.select(id),
            manageProfiles: () => void mainWindow.webContents.loadURL(`${APP_INDEX_URL}#/backends`),
            about: () =>
              void dialog.showMessageBox({
                type: 'info',
                title: 'About Tether',
                message: `Tether ${app.getVersion()}`,
                detail: `Electron ${process.versions.electron}, Chromium ${process.versions.chrome}, Node ${process.versions.node}`,
              }),
          },
        }),
      ),
    );
  };

  const handlers: DesktopHandlers = {
    profiles: {
      list: () => profiles.list(),
      add: (profile) => {
        const added = profiles.add(profile);
        refreshMenu();
        return added;
      },
      remove: (id) => {
        const wasActive = profiles.active()?.id === id;
        profiles.remove(id);
        tokens.clear(id);
        refreshMenu();
        if (wasActive) reloadAll();
        return null;
      },
      select: (id) => {
        // A forward dials the backend it was started against: another backend ends them.
        void forwards.stopAll();
        profiles.select(id);
        refreshMenu();
        // The CSP, the proxy target and the certificate policy all follow the active profile.
        reloadAll();
        return null;
      },
    },
    session: {
      status: () => {
        const active = profiles.active();
        return { signedIn: active !== null && tokens.get(active.id) !== null, storage: tokens.storage() };
      },
      clear: () => {
        const active = profiles.active();
        if (active !== null) tokens.clear(active.id);
        return null;
      },
    },
    backend: { endpoint },
    notifications: {
      show: ({ title, body }) => {
        if (Notification.isSupported()) new Notification({ title, body }).show();
        return null;
      },
    },
    terminal: {
      popOut: (deviceId) => {
        openWindow(new BrowserWindow(terminalWindowOptions(preload, deviceId)), `${APP_INDEX_URL}#/devices/${deviceId}/shell`);
        return null;
      },
    },
    forwards: {
      list: (deviceId) => forwards.list(deviceId),
      start: async (request) => {
        const active = profiles.active();
        if (active === null) throw new TetherError('NO_ACTIVE_PROFILE');
        if (!caPems.has(active.id)) caPems.set(active.id, await fetchPinnedCaPem(active, (url) => net.fetch(url)));
        return forwards.start({ ...request, bind: '127.0.0.1' });
      },
      stop: async (id) => {
        await forwards.stop(id);
        return null;
      },
    },
  };
  const ourContentsIds = (): ReadonlySet<number> => new Set([...windows].map((window) => window.webContents.id));
  for (const [channel, handler] of createDesktopChannels(handlers, ourContentsIds, (message, error) => console.error(message, error))) {
    ipcMain.handle(channel, handler);
  }

  const stateFile = join(userData, 'window-state.json');
  const workAreas = [screen.getPrimaryDisplay(), ...screen.getAllDisplays()].map((display) => display.workArea);
  const restored = restoreWindowBounds(readWindowState(stateFile), workAreas, CONSOLE_DEFAULT_SIZE, CONSOLE_MIN_SIZE);
  const mainWindow = openWindow(new BrowserWindow(consoleWindowOptions(preload, restored.bounds)), APP_INDEX_URL);
  if (restored.maximized) mainWindow.maximize();
  mainWindow.on('close', () => {
    try {
      writeWindowState(stateFile, windowStateToSave(mainWindow.getNormalBounds(), mainWindow.isMaximized()));
    } catch (error) {
      console.warn('cannot remember the window position', error);
    }
  });
  refreshMenu();
}

app
  .whenReady()
  .then(start)
  .catch((error: unknown) => {
    console.error('The desktop console failed to start:', error);
    app.exit(1);
  });
