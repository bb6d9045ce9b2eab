import { randomBytes } from 'node:crypto';

/** A grant lives this long after it was issued (the console issues a fresh one on each click). */
export const RELAY_GRANT_TTL_MS = 30 * 60_000;
const MAX_GRANTS = 10_000;

export interface RelayGrant {
  deviceId: string;
  port: number;
  /** The console session it was issued to: re-authenticated on each request, so a logout ends it. */
  sessionToken: string;
  expiresAt: number;
}

/** A grant token as it appears in a relay URL. */
export const RELAY_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Short-lived relay grants, in memory (one node: a grant issued by another node is unknown here,
 * and the browser is sent back to the console for a new one). A grant names one device and one
 * port; its token is the path segment after them, `/relay/<device>/<port>/<token>/`.
 */
export class RelayGrants {
  private readonly grants = new Map<string, RelayGrant>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(deviceId: string, port: number, sessionToken: string): { token: string; grant: RelayGrant } {
    this.sweep();
    if (this.grants.size >= MAX_GRANTS) {
      const oldest = this.grants.keys().next().value;
      if (oldest !== undefined) this.grants.delete(oldest);
    }
    const token = randomBytes(32).toString('base64url');
    const grant = { deviceId, port, sessionToken, expiresAt: this.now() + RELAY_GRANT_TTL_MS };
    this.grants.set(token, grant);
    return { token, grant };
  }

  /** The live grant behind `token` for this device and port, or null. */
  find(token: string, deviceId: string, port: number): RelayGrant | null {
    const grant = this.grants.get(token);
    if (!grant) return null;
    if (grant.expiresAt <= this.now()) {
      this.grants.delete(token);
      return null;
    }
    return grant.deviceId === deviceId && grant.port === port ? grant : null;
  }

  private sweep(): void {
    const now = this.now();
    for (const [token, grant] of this.grants) if (grant.expiresAt <= now) this.grants.delete(token);
  }
}
