import { describe, expect, it } from 'vitest';
import { consoleWindowOptions } from './window-options.js';

describe('consoleWindowOptions', () => {
  it('isolates the page: sandbox, context isolation, no Node, web security on', () => {
    expect(consoleWindowOptions().webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });

  it('has no preload yet: the page gets nothing beyond a browser tab', () => {
    expect(consoleWindowOptions().webPreferences).not.toHaveProperty('preload');
  });

  it('waits for the first paint before showing', () => {
    expect(consoleWindowOptions().show).toBe(false);
  });
});
