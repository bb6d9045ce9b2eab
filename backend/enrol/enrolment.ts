import { randomBytes } from 'node:crypto';
import { DeviceName, type RegisterRequest, type RegisterResponse } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { hashSecret, newSecret } from '../auth/secrets.js';
import type { DeviceRepo } from '../devices/device-repo.js';
import type { FleetEvents } from '../devices/fleet-events.js';
import type { Presence } from '../devices/presence.js';
import { issueDeviceCert } from '../pki/issue.js';
import type { Db } from '../store/db.js';
import type { TokenService } from './tokens.js';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** `dev_` + 24 random base32 characters (120 bits): the device does not choose its id. */
export function newDeviceId(): string {
  const bytes = randomBytes(24);
  let id = 'dev_';
  for (const b of bytes) id += ID_ALPHABET[b % 32];
  return id;
}

/** Turns a registration token and a CSR into a device with a certificate and a telemetry token. */
export class EnrolmentService {
  constructor(
    private readonly deps: {
      db: Db; tokens: TokenService; devices: DeviceRepo; presence: Presence; events: FleetEvents; audit: AuditLog;
      ca: { certPem: string; keyPem: string }; now?: () => number;
    },
  ) {}

  register(request: RegisterRequest): RegisterResponse {
    const { db, tokens, devices, ca, audit } = this.deps;
    const now = this.deps.now?.() ?? Date.now();
    const telemetryToken = newSecret('tdt_');
    // One transaction: a CSR that fails to certify leaves the token's uses untouched.
    const result = db.transaction(() => {
      const token = tokens.spend(request.token);
      const deviceId = newDeviceId();
      const cert = issueDeviceCert(ca, request.csr, deviceId);
      const status = token.requireApproval ? 'pending' : 'active';
      // The hostname names the device only when it would pass as a name itself (no control characters).
      const hostname = DeviceName.safeParse(request.facts?.hostname);
      const name = request.name ?? (hostname.success ? hostname.data : deviceId);
      devices.insert({
        id: deviceId, name, status, certFingerprint: cert.fingerprint256, telemetryTokenHash: hashSecret(telemetryToken),
        tags: token.tags, facts: request.facts ?? null, tokenId: token.id, createdAt: now,
      });
      audit.record(`token:${token.id}`, 'device.register', deviceId, { name, status });
      return { deviceId, status, certificate: cert.certPem } as const;
    })();
    this.deps.events.emit({ type: 'device.upsert', device: this.deps.presence.view(devices.get(result.deviceId)) });
    return { ...result, caCertificate: ca.certPem, telemetryToken };
  }
}
