import { X509Certificate } from 'node:crypto';
import WebSocket from 'ws';
import { TetherError, type BackendProfile } from '../../protocol/index.js';
import { spkiPin } from '../pinned-certificate.js';
import type { ForwardDial } from './forward-manager.js';

export interface ForwardDialDeps {
  activeProfile(): BackendProfile | null;
  token(profileId: string): string | null;
  /** The profile's CA certificate, already checked against its pin ({@link fetchPinnedCaPem}). */
  caPem(profileId: string): string | undefined;
}

/**
 * The backend's CA certificate for Node's TLS (the forward sockets are Node `ws` clients, not
 * Chromium's pinned session): fetched from `/ca.crt` and accepted only when its SPKI matches the
 * profile's pin, so the sockets trust exactly what the console's session trusts.
 */
export async function fetchPinnedCaPem(profile: BackendProfile, fetch: (url: string) => Promise<{ text(): Promise<string> }>): Promise<string> {
  const pem = await (await fetch(`${profile.url}/ca.crt`)).text();
  let pin: string;
  try {
    pin = spkiPin(new X509Certificate(pem));
  } catch {
    throw new TetherError('CA_PIN_MISMATCH', `${profile.url}/ca.crt is not a certificate`);
  }
  if (pin !== profile.caPin) throw new TetherError('CA_PIN_MISMATCH');
  return pem;
}

/** Forward sockets to the active backend with its session token, trusting only its pinned CA. */
export function createForwardDial(deps: ForwardDialDeps): ForwardDial {
  return (deviceId, host, port) => {
    const profile = deps.activeProfile();
    const url = new URL('/api/v1/forward', profile?.url ?? 'https://backend.invalid');
    url.protocol = 'wss:';
    url.search = new URLSearchParams({ deviceId, host, port: String(port) }).toString();
    const token = profile ? deps.token(profile.id) : null;
    const ca = profile ? deps.caPem(profile.id) : undefined;
    return new WebSocket(url, {
      ...(ca !== undefined ? { ca } : {}),
      headers: token !== null ? { authorization: `Bearer ${token}` } : {},
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
      maxPayload: 1024 * 1024,
    });
  };
}
