import { app, BrowserWindow, session, shell } from 'electron';
import { withDefaultCsp } from './csp.js';
import { readLaunchOptions } from './launch-options.js';
import { installNavigationGuards, isExternalWebLink } from './navigation.js';
import { isPinnedServerCertificate } from './pinned-certificate.js';
import { consoleWindowOptions } from './window-options.js';

// The desktop shell's composition root: reads the launch options, hardens the session and
// opens the console window. The decisions live in the modules above, which have tests.

const launch = readLaunchOptions(process.argv, process.env);
if (!launch.ok) {
  console.error(launch.message);
  process.exit(2);
}
const { consoleUrl, caPin } = launch.options;
const consoleHost = new URL(consoleUrl).hostname;

/** Chromium's answers to a certificate verify request. */
const CERT_ACCEPT = 0;
const CERT_REJECT = -2;
const CERT_DEFAULT = -3;

const openExternal = (url: string): void => {
  if (!isExternalWebLink(url)) return;
  shell.openExternal(url).catch((error: unknown) => console.warn('cannot open', url, error));
};

// Every renderer sandboxed, whatever options a window is given.
app.enableSandbox();

app.on('web-contents-created', (_event, contents) => {
  installNavigationGuards(contents, consoleUrl, openExternal);
});

app.on('window-all-closed', () => app.quit());

function openConsoleWindow(): void {
  const window = new BrowserWindow(consoleWindowOptions());
  window.once('ready-to-show', () => window.show());
  window.loadURL(consoleUrl).catch((error: unknown) => {
    console.error(`Cannot load the console at ${consoleUrl}:`, error);
  });
}

app
  .whenReady()
  .then(() => {
    const ses = session.defaultSession;
    // The console needs no camera, microphone, location, notifications or the like from the page.
    ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
    ses.setPermissionCheckHandler(() => false);
    ses.webRequest.onHeadersReceived((details, callback) => {
      callback({ responseHeaders: withDefaultCsp(details.responseHeaders) });
    });
    if (caPin !== null) {
      ses.setCertificateVerifyProc((request, callback) => {
        if (request.hostname !== consoleHost) return callback(CERT_DEFAULT);
        callback(isPinnedServerCertificate(request, caPin) ? CERT_ACCEPT : CERT_REJECT);
      });
    }
    openConsoleWindow();
  })
  .catch((error: unknown) => {
    console.error('The desktop console failed to start:', error);
    app.exit(1);
  });
