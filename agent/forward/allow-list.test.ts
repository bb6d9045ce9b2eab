import { describe, expect, it } from 'vitest';
import { ForwardAllowList } from './allow-list.js';

describe('ForwardAllowList', () => {
  it('allows the loopback on any port by default, and nothing else', () => {
    const list = new ForwardAllowList();
    expect(list.allows('127.0.0.1', 8080)).toBe(true);
    expect(list.allows('::1', 22)).toBe(true);
    expect(list.allows('[::1]', 22)).toBe(true);
    expect(list.allows('LOCALHOST', 1)).toBe(true);
    expect(list.allows('10.0.0.1', 80)).toBe(false);
    expect(list.allows('127.0.0.2', 80)).toBe(false);
    expect(list.allows('example.com', 443)).toBe(false);
  });

  it('takes single ports and ranges, and an empty list allows nothing', () => {
    const list = new ForwardAllowList(['127.0.0.1:8080', '192.168.1.10:8000-8100', 'bad entry', '127.0.0.1:9-2']);
    expect(list.allows('127.0.0.1', 8080)).toBe(true);
    expect(list.allows('127.0.0.1', 8081)).toBe(false);
    expect(list.allows('192.168.1.10', 8050)).toBe(true);
    expect(list.allows('192.168.1.10', 8101)).toBe(false);
    expect(new ForwardAllowList([]).allows('127.0.0.1', 80)).toBe(false);
  });

  it('`*` as host allows any host on its ports', () => {
    const list = new ForwardAllowList(['*:443']);
    expect(list.allows('example.com', 443)).toBe(true);
    expect(list.allows('example.com', 80)).toBe(false);
  });
});
