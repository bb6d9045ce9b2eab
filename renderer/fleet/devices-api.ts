import { DeviceBulkResponse, type DeviceTagsRequest, type RelayGrantResponse } from '../../protocol/index.js';
import { createJsonRequest } from '../api/json-request.js';

/** Bulk inventory changes; each call is all or nothing on the backend. */
export interface DevicesApi {
  editTags(request: DeviceTagsRequest): Promise<DeviceBulkResponse>;
  revoke(ids: readonly string[]): Promise<DeviceBulkResponse>;
  /** A web relay grant for a web UI on the device's loopback: the path to open (docs/forwarding.md). */
  relayGrant(deviceId: string, port: number): Promise<RelayGrantResponse>;
}

export function createDevicesApi(options: { fetch?: typeof fetch; timeoutMs?: number } = {}): DevicesApi {
  const call = createJsonRequest(options);
  return {
    editTags: (request) => call(DeviceBulkResponse, 'POST', '/devices/tags', request),
    revoke: (ids) => call(DeviceBulkResponse, 'POST', '/devices/revoke', { ids }),
    // The forwarding schemas load with the first grant, not with the fleet's first screen.
    relayGrant: async (deviceId, port) => call((await import('../../protocol/forward.js')).RelayGrantResponse, 'POST', `/devices/${encodeURIComponent(deviceId)}/relay`, { port }),
  };
}
