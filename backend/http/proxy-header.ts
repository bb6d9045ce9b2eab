import { isIPv4, isIPv6 } from 'node:net';
import { TetherError } from '../../protocol/index.js';

/**
 * PROXY protocol headers (HAProxy's proxy-protocol.txt, v1 text and v2 binary), parsed by hand:
 * the npm parsers (proxy-protocol-js, @balena/proxy-protocol-parser, findhit-proxywrap) parse
 * whole buffers only or are unmaintained, and the format is small and fixed.
 */

/** The 12 bytes every v2 header starts with. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** A v1 line is at most 107 bytes, CRLF included. */
const V1_MAX = 107;
const V2_FIXED = 16;

export interface ProxySource {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export type ProxyHeaderParse =
  | { done: false }
  /** `length` bytes are the header; `source` is null when the header keeps the connection's own address (LOCAL, UNKNOWN, UNIX). */
  | { done: true; length: number; source: ProxySource | null };

/**
 * Parses the PROXY header at the start of `bytes` (what arrived so far): `{done: false}` until
 * it is whole. Throws TetherError PROXY_HEADER_INVALID as soon as the bytes cannot begin one.
 */
export function parseProxyHeader(bytes: Buffer): ProxyHeaderParse {
  if (startsLike(bytes, PROXY_V2_SIGNATURE)) return bytes.length < V2_FIXED ? { done: false } : parseV2(bytes);
  if (startsLike(bytes, V1_PREFIX)) return parseV1(bytes);
  throw invalid('the connection does not start with a PROXY protocol signature');
}

/** Whether the shorter of `bytes` and `prefix` is a prefix of the other. */
function startsLike(bytes: Buffer, prefix: Buffer): boolean {
  const n = Math.min(bytes.length, prefix.length);
  return bytes.subarray(0, n).equals(prefix.subarray(0, n));
}

function parseV2(bytes: Buffer): ProxyHeaderParse {
  const versionCommand = bytes.readUInt8(12);
  const familyTransport = bytes.readUInt8(13);
  const length = V2_FIXED + bytes.readUInt16BE(14);
  if (versionCommand >> 4 !== 2) throw invalid(`version ${versionCommand >> 4} (only 2 is binary)`);
  const command = versionCommand & 0x0f;
  if (command > 1) throw invalid(`unknown command ${command}`);
  if (bytes.length < length) return { done: false };
  // LOCAL: the proxy's own connection (its health checks); the addresses, if any, are ignored.
  if (command === 0) return { done: true, length, source: null };
  const block = bytes.subarray(V2_FIXED, length);
  switch (familyTransport) {
    case 0x00: // UNSPEC
    case 0x31: // UNIX stream
      return { done: true, length, source: null };
    case 0x11: // TCP over IPv4: source, destination, source port, destination port
      if (block.length < 12) throw invalid('IPv4 address block too short');
      return { done: true, length, source: { address: Array.from(block.subarray(0, 4)).join('.'), port: block.readUInt16BE(8), family: 'IPv4' } };
    case 0x21: // TCP over IPv6
      if (block.length < 36) throw invalid('IPv6 address block too short');
      return { done: true, length, source: { address: formatIPv6(block.subarray(0, 16)), port: block.readUInt16BE(32), family: 'IPv6' } };
    default:
      throw invalid(`address family and transport 0x${familyTransport.toString(16).padStart(2, '0')} (a TLS listener takes TCP only)`);
  }
}

function parseV1(bytes: Buffer): ProxyHeaderParse {
  const end = bytes.subarray(0, V1_MAX).indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    if (bytes.length >= V1_MAX) throw invalid('v1 line longer than 107 bytes');
    return { done: false };
  }
  const length = end + 2;
  const [, protocol, source, , sourcePort, destinationPort, ...rest] = bytes.subarray(0, end).toString('latin1').split(' ');
  if (protocol === 'UNKNOWN') return { done: true, length, source: null };
  const family = protocol === 'TCP4' ? 'IPv4' : protocol === 'TCP6' ? 'IPv6' : null;
  if (!family) throw invalid(`v1 protocol ${JSON.stringify(protocol ?? '')}`);
  const valid = source !== undefined && (family === 'IPv4' ? isIPv4(source) : isIPv6(source));
  if (!valid || rest.length > 0 || !isPort(sourcePort) || !isPort(destinationPort)) throw invalid('malformed v1 line');
  return { done: true, length, source: { address: family === 'IPv6' ? source.toLowerCase() : source, port: Number(sourcePort), family } };
}

function isPort(text: string | undefined): text is string {
  return text !== undefined && /^(0|[1-9]\d{0,4})$/.test(text) && Number(text) <= 65535;
}

/** RFC 5952 text, as Node shows a socket's IPv6 address: lower case, the longest run of zero groups as `::`, IPv4-mapped dotted. */
export function formatIPv6(raw: Buffer): string {
  if (raw.subarray(0, 10).every((b) => b === 0) && raw.readUInt16BE(10) === 0xffff) return `::ffff:${Array.from(raw.subarray(12)).join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => raw.readUInt16BE(i * 2));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.len < 2) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

function invalid(reason: string): TetherError {
  return new TetherError('PROXY_HEADER_INVALID', `PROXY protocol header refused: ${reason}`);
}
