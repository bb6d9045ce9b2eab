/** Version of the agent ↔ backend protocol. A peer speaking another version is refused with PROTOCOL_VERSION. */
export const PROTOCOL_VERSION = 1;
