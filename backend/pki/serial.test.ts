import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { randomSerialHex } from './serial.js';

describe('randomSerialHex', () => {
  it('is 16 bytes of lower-case hex whose first byte is 0x01..0x7f (positive, minimal DER)', () => {
    for (let i = 0; i < 2000; i++) {
      const serial = randomSerialHex();
      expect(serial).toMatch(/^[0-9a-f]{32}$/);
      const first = Number.parseInt(serial.slice(0, 2), 16);
      expect(first).toBeGreaterThanOrEqual(0x01);
      expect(first).toBeLessThanOrEqual(0x7f);
    }
  });

  it('does not repeat', () => {
    const serials = new Set(Array.from({ length: 1000 }, () => randomSerialHex()));
    expect(serials.size).toBe(1000);
  });

  it('encodes as a positive DER INTEGER of exactly 16 bytes', () => {
    const serial = randomSerialHex();
    const der = forge.asn1.toDer(forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.INTEGER, false, forge.util.hexToBytes(serial)));
    const bytes = Buffer.from(der.getBytes(), 'binary');
    expect(bytes[1]).toBe(16);
    expect((bytes[2] ?? 0) & 0x80).toBe(0);
    expect(bytes[2]).not.toBe(0);
  });
});
