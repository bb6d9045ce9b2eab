/**
 * `generateMask` for the agent's WebSocket clients: an all-zero key. The frames still carry the
 * mask bit and a key, so they stay valid RFC 6455 client frames, but `ws` skips the XOR pass and
 * the copy of every outgoing payload, and the backend's `ws` skips unmasking. The client mask protects
 * proxies' caches from frames a browser script chose; the agent is no browser, its sockets are
 * TLS end to end (no intermediary reads the frames), and the control channel's payloads are
 * sealed again inside. Device output (shell, downloads, forwards) is the agent's bulk, so this
 * is two passes over every byte saved.
 */
export function zeroMask(mask: Buffer): void {
  mask.fill(0);
}
