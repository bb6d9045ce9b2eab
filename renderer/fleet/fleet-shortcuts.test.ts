import { describe, expect, it } from 'vitest';
import { shortcutOf, type KeyLike } from './fleet-shortcuts.js';

const key = (k: string, overrides: Partial<KeyLike> = {}): KeyLike => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, target: { tagName: 'BODY' }, ...overrides });

describe('fleet shortcuts', () => {
  it('maps the keys', () => {
    expect(['/', 'j', 'ArrowDown', 'k', 'ArrowUp', 'Enter', 'x', 'Escape', '?'].map((k) => shortcutOf(key(k)))).toEqual([
      'focus-search', 'next', 'next', 'previous', 'previous', 'open', 'toggle', 'escape', 'help',
    ]);
    expect(shortcutOf(key('q'))).toBeNull();
  });

  it('stays out of the way while typing, except for Escape', () => {
    for (const tagName of ['INPUT', 'TEXTAREA', 'SELECT']) {
      expect(shortcutOf(key('/', { target: { tagName } }))).toBeNull();
      expect(shortcutOf(key('j', { target: { tagName } }))).toBeNull();
    }
    expect(shortcutOf(key('x', { target: { tagName: 'DIV', isContentEditable: true } }))).toBeNull();
    expect(shortcutOf(key('Escape', { target: { tagName: 'INPUT' } }))).toBe('escape');
  });

  it('leaves Enter and x to a focused button or link, and modified keys to the browser', () => {
    expect(shortcutOf(key('Enter', { target: { tagName: 'BUTTON' } }))).toBeNull();
    expect(shortcutOf(key('Enter', { target: { tagName: 'A' } }))).toBeNull();
    expect(shortcutOf(key('j', { target: { tagName: 'BUTTON' } }))).toBe('next');
    expect(shortcutOf(key('k', { ctrlKey: true }))).toBeNull();
    expect(shortcutOf(key('/', { metaKey: true }))).toBeNull();
  });
});
