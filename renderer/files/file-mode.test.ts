import { describe, expect, it } from 'vitest';
import { formatMode } from './file-mode.js';

describe('formatMode', () => {
  it('shows the octal bits and the letters ls shows', () => {
    expect(formatMode(0o644)).toBe('0644 rw-r--r--');
    expect(formatMode(0o755)).toBe('0755 rwxr-xr-x');
    expect(formatMode(0)).toBe('0000 ---------');
    expect(formatMode(0o4755)).toBe('4755 rwsr-xr-x');
    expect(formatMode(0o2640)).toBe('2640 rw-r-S---');
    expect(formatMode(0o1777)).toBe('1777 rwxrwxrwt');
    expect(formatMode(0o1776)).toBe('1776 rwxrwxrwT');
  });
});
