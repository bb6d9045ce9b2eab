import { createContext, use } from 'react';
import { browserHost, type ConsoleHost } from './host.js';

/** The host, provided by main.tsx; defaults to the browser on the page's own origin. */
export const ConsoleHostContext = createContext<ConsoleHost | null>(null);

export function useConsoleHost(): ConsoleHost {
  return use(ConsoleHostContext) ?? browserHost(window.location);
}
