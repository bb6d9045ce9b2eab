import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { setValidity } from './validity.js';

const NOW = new Date('2024-02-29T12:00:00.000Z');

describe('setValidity', () => {
  it('starts five minutes before now to tolerate clocks that run behind', () => {
    const cert = forge.pki.createCertificate();
    setValidity(cert, { days: 1 }, NOW);
    expect(cert.validity.notBefore.toISOString()).toBe('2024-02-29T11:55:00.000Z');
  });

  it('ends a number of days from now', () => {
    const cert = forge.pki.createCertificate();
    setValidity(cert, { days: 825 }, NOW);
    expect(cert.validity.notAfter.getTime() - NOW.getTime()).toBe(825 * 24 * 60 * 60 * 1000);
  });

  it('ends on the same calendar date a number of years from now', () => {
    const cert = forge.pki.createCertificate();
    setValidity(cert, { years: 10 }, new Date('2024-06-01T08:30:00.000Z'));
    expect(cert.validity.notAfter.toISOString()).toBe('2034-06-01T08:30:00.000Z');
  });

  it('does not change the date it is given', () => {
    const now = new Date(NOW);
    setValidity(forge.pki.createCertificate(), { years: 2 }, now);
    expect(now.getTime()).toBe(NOW.getTime());
  });
});
