import type { DeviceListQuery } from '../../protocol/index.js';

/**
 * The REST paths the console's first screen asks for, apart from the API client (which loads zod)
 * so the page's entry can start the same requests early (boot.ts) and both build the same URL.
 */
export const API_PREFIX = '/api/v1';

export const ME_PATH = '/auth/me';

/** `/devices?limit=…&after=…` with the fields that are set. */
export function devicesPath(page: DeviceListQuery = {}): string {
  const params = new URLSearchParams();
  if (page.limit !== undefined) params.set('limit', String(page.limit));
  if (page.after !== undefined) params.set('after', page.after);
  const text = params.toString();
  return text === '' ? '/devices' : `/devices?${text}`;
}
