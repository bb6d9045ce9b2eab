import { describe, expect, it } from 'vitest';
import { TetherError } from '../../protocol/index.js';
import { formatIPv6, parseProxyHeader, PROXY_V2_SIGNATURE } from './proxy-header.js';

/** A v2 header as HAProxy's send-proxy-v2 writes it. */
function v2(command: number, familyTransport: number, block: Buffer): Buffer {
  const fixed = Buffer.alloc(4);
  fixed.writeUInt8(0x20 | command, 0);
  fixed.writeUInt8(familyTransport, 1);
  fixed.writeUInt16BE(block.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, block]);
}

function ipv4Block(source: number[], destination: number[], sourcePort: number, destinationPort: number, tlvs = Buffer.alloc(0)): Buffer {
  const block = Buffer.alloc(12);
  Buffer.from(source).copy(block, 0);
  Buffer.from(destination).copy(block, 4);
  block.writeUInt16BE(sourcePort, 8);
  block.writeUInt16BE(destinationPort, 10);
  return Buffer.concat([block, tlvs]);
}

function ipv6Block(source: string, sourcePort: number): Buffer {
  const block = Buffer.alloc(36);
  Buffer.from(source.replace(/:/g, ''), 'hex').copy(block, 0);
  Buffer.from('20010db8000000000000000000000002', 'hex').copy(block, 16);
  block.writeUInt16BE(sourcePort, 32);
  block.writeUInt16BE(443, 34);
  return block;
}

function refusal(bytes: Buffer): string {
  try {
    parseProxyHeader(bytes);
  } catch (err) {
    if (err instanceof TetherError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('parsed without error');
}

/** The first bytes of a TLS ClientHello: what follows the header on the wire. */
const CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

describe('parseProxyHeader', () => {
  it('reads a v2 PROXY header over IPv4: the client address and port, and the header length, TLS bytes after it untouched', () => {
    const header = v2(1, 0x11, ipv4Block([203, 0, 113, 7], [10, 0, 0, 11], 51_234, 8443));
    const parsed = parseProxyHeader(Buffer.concat([header, CLIENT_HELLO]));
    expect(parsed).toEqual({ done: true, length: header.length, source: { address: '203.0.113.7', port: 51_234, family: 'IPv4' } });
    expect(header.length).toBe(28);
  });

  it('skips TLVs after the addresses (they count in the length)', () => {
    const tlv = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]); // PP2_TYPE_NOOP
    const header = v2(1, 0x11, ipv4Block([192, 0, 2, 1], [10, 0, 0, 11], 1, 2, tlv));
    expect(parseProxyHeader(Buffer.concat([header, CLIENT_HELLO]))).toMatchObject({ done: true, length: 34, source: { address: '192.0.2.1' } });
  });

  it('reads a v2 PROXY header over IPv6, the address as Node prints one', () => {
    const header = v2(1, 0x21, ipv6Block('2001:0db8:0000:0000:0000:0000:0000:0001', 40_000));
    expect(parseProxyHeader(header)).toEqual({ done: true, length: 52, source: { address: '2001:db8::1', port: 40_000, family: 'IPv6' } });
    const mapped = v2(1, 0x21, ipv6Block('0000:0000:0000:0000:0000:ffff:c000:0201', 1));
    expect(parseProxyHeader(mapped)).toMatchObject({ source: { address: '::ffff:192.0.2.1' } });
  });

  it('a LOCAL command (HAProxy\'s health checks) keeps the connection\'s own address, with or without addresses', () => {
    expect(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0)))).toEqual({ done: true, length: 16, source: null });
    expect(parseProxyHeader(v2(0, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)))).toEqual({ done: true, length: 28, source: null });
  });

  it('UNSPEC and UNIX families keep the connection\'s own address; UDP is refused', () => {
    expect(parseProxyHeader(v2(1, 0x00, Buffer.alloc(0)))).toEqual({ done: true, length: 16, source: null });
    expect(parseProxyHeader(v2(1, 0x31, Buffer.alloc(216)))).toEqual({ done: true, length: 232, source: null });
    expect(refusal(v2(1, 0x12, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)))).toMatch(/^PROXY_HEADER_INVALID: .*0x12/);
  });

  it('waits for a header split across packets, byte by byte, until it is whole', () => {
    const header = Buffer.concat([v2(1, 0x11, ipv4Block([198, 51, 100, 9], [10, 0, 0, 11], 7, 8443)), CLIENT_HELLO]);
    for (let n = 1; n < 28; n++) expect(parseProxyHeader(header.subarray(0, n)), `${n} bytes`).toEqual({ done: false });
    expect(parseProxyHeader(header.subarray(0, 28))).toMatchObject({ done: true, length: 28, source: { address: '198.51.100.9', port: 7 } });
  });

  it('refuses at once what cannot be a header: a TLS ClientHello, a wrong signature, another version or command', () => {
    expect(refusal(CLIENT_HELLO)).toMatch(/^PROXY_HEADER_INVALID: .*signature/);
    expect(refusal(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x58]))).toMatch(/signature/);
    expect(refusal(Buffer.from('GET / HTTP/1.1\r\n'))).toMatch(/signature/);
    const wrongVersion = v2(1, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    wrongVersion.writeUInt8(0x11, 12);
    expect(refusal(wrongVersion)).toMatch(/version 1/);
    expect(refusal(v2(2, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)))).toMatch(/command 2/);
  });

  it('refuses an address block shorter than its family needs', () => {
    expect(refusal(v2(1, 0x11, Buffer.alloc(8)))).toMatch(/IPv4 address block too short/);
    expect(refusal(v2(1, 0x21, Buffer.alloc(12)))).toMatch(/IPv6 address block too short/);
  });

  it('reads v1 lines: TCP4, TCP6, UNKNOWN; waits for the CRLF; refuses a malformed or overlong line', () => {
    const line = Buffer.from('PROXY TCP4 192.0.2.44 10.0.0.11 56324 8443\r\n');
    expect(parseProxyHeader(Buffer.concat([line, CLIENT_HELLO]))).toEqual({ done: true, length: line.length, source: { address: '192.0.2.44', port: 56_324, family: 'IPv4' } });
    expect(parseProxyHeader(line.subarray(0, 20))).toEqual({ done: false });
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 2001:DB8::7 2001:db8::2 1 443\r\n'))).toMatchObject({ source: { address: '2001:db8::7', family: 'IPv6' } });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ done: true, length: 15, source: null });
    expect(refusal(Buffer.from('PROXY TCP4 2001:db8::7 10.0.0.11 1 2\r\n'))).toMatch(/malformed v1/);
    expect(refusal(Buffer.from('PROXY TCP4 192.0.2.44 10.0.0.11 65536 2\r\n'))).toMatch(/malformed v1/);
    expect(refusal(Buffer.from('PROXY UDP4 192.0.2.44 10.0.0.11 1 2\r\n'))).toMatch(/v1 protocol "UDP4"/);
    expect(refusal(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`))).toMatch(/longer than 107/);
  });
});

describe('formatIPv6', () => {
  it.each([
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['fe800000000000000000000000000000', 'fe80::'],
    ['20010db8000100020003000400050006', '2001:db8:1:2:3:4:5:6'],
  ])('%s is %s', (hex, text) => {
    expect(formatIPv6(Buffer.from(hex, 'hex'))).toBe(text);
  });
});
