import { contextBridge, ipcRenderer } from 'electron';
import { createDesktopBridge, DESKTOP_GLOBAL } from '../protocol/index.js';

// The console page's only door to the desktop shell: one function per operation of
// DESKTOP_API, each calling its own channel. `ipcRenderer` itself is never exposed, so the page
// cannot pick channels or listen to anything.
contextBridge.exposeInMainWorld(DESKTOP_GLOBAL, createDesktopBridge((channel, args) => ipcRenderer.invoke(channel, ...args)));
