import { createContext, useContext } from 'react';
import type { MonitoringApi } from './monitoring-api.js';
import type { MonitoringFeed } from './monitoring-feed.js';
import type { LiveSubscriptions } from './live-subscriptions.js';

/** What the monitoring views need; main.tsx provides it. */
export interface MonitoringServices {
  api: MonitoringApi;
  feed: MonitoringFeed;
  live: LiveSubscriptions;
}

export const MonitoringContext = createContext<MonitoringServices | null>(null);

/** Null where the console was built without monitoring (other views' tests). */
export function useOptionalMonitoring(): MonitoringServices | null {
  return useContext(MonitoringContext);
}

export function useMonitoring(): MonitoringServices {
  const services = useContext(MonitoringContext);
  if (services === null) throw new Error('useMonitoring: render inside <MonitoringContext value={…}>');
  return services;
}
