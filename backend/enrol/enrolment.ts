import { randomBytes } from 'node:crypto';
import { DeviceName, type RegisterRequest, type RegisterResponse } from '../../protocol/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { hashSecret, newSecret } from '../auth/secrets.js';
import type { FleetEvents } from '../devices/fleet-events.js';
import type { Presence } from '../devices/presence.js';
import { issueDeviceCert } from '../pki/issue.js';
import type { Stores } from '../store/stores.js';
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
      stores: Stores; tokens: TokenService; presence: Presence; events: FleetEvents; audit: AuditLog;
      ca: { certPem: string; keyPem: string }; now?: () => number;
    },
  ) {}

  async register(request: RegisterRequest): Promise<RegisterResponse> {
    const { stores, tokens, ca, audit } = this.deps;
    const now = this.deps.now?.() ?? Date.now();
    const telemetryToken = newSecret('tdt_');
    // One transaction: a CSR that fails to certify leaves the token's uses untouched.
    const result = await stores.transaction(async (tx) => {
      const token = await tokens.spend(request.token, tx);
      const deviceId = newDeviceId();
      const cert = issueDeviceCert(ca, request.csr, deviceId);
      const status = token.requireApproval ? 'pending' : 'active';
      // The hostname names the device only when it would pass as a name itself (no control characters).
      const hostname = DeviceName.safeParse(request.facts?.hostname);
      const name = request.name ?? (hostname.success ? hostname.data : deviceId);
      await tx.devices.insert({
        id: deviceId, name, status, certFingerprint: cert.fingerprint256, telemetryTokenHash: hashSecret(telemetryToken),
        tags: token.tags, facts: request.facts ?? null, tokenId: token.id, createdAt: now,
      });
      await audit.record(`token:${token.id}`, 'device.register', deviceId, { name, status }, tx);
      const device = await tx.devices.find(deviceId);
      if (!device) throw new Error(`device ${deviceId} vanished inside the transaction that created it`);
      return { deviceId, status, certificate: cert.certPem, device } as const;
    });
    this.deps.events.emit({ type: 'device.upsert', device: this.deps.presence.view(result.device) });
    return { deviceId: result.deviceId, status: result.status, certificate: result.certificate, caCertificate: ca.certPem, telemetryToken };
  }
}
