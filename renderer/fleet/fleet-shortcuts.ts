/** What a key does in the fleet view. */
export type FleetShortcut = 'focus-search' | 'next' | 'previous' | 'open' | 'toggle' | 'escape' | 'help';

/** The shortcut list the help overlay shows, in order. */
export const SHORTCUT_HELP: ReadonlyArray<{ keys: string; action: string }> = [
  { keys: '/', action: 'Search' },
  { keys: 'j / ↓', action: 'Next device' },
  { keys: 'k / ↑', action: 'Previous device' },
  { keys: 'Enter', action: 'Open details' },
  { keys: 'x', action: 'Select or unselect' },
  { keys: 'Esc', action: 'Close, then clear the selection' },
  { keys: '?', action: 'This help' },
];

export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  /** The focused element's tag and editability, so typing in a field is never taken for a shortcut. */
  target: { tagName?: string; isContentEditable?: boolean } | null;
}

const TYPING_TAGS = new Set(['INPUT', 'TEXTAREA', 'SELECT']);
const ACTIVATABLE_TAGS = new Set(['BUTTON', 'A', 'SUMMARY']);

export function isTyping(target: KeyLike['target']): boolean {
  return target !== null && (target.isContentEditable === true || TYPING_TAGS.has(target.tagName ?? ''));
}

/** Maps a keydown to a shortcut; null when the key is not one or the user is typing (Escape excepted). */
export function shortcutOf(event: KeyLike): FleetShortcut | null {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  if (event.key === 'Escape') return 'escape';
  if (isTyping(event.target)) return null;
  // Enter and x on a focused button, link or checkbox keep their own meaning.
  if ((event.key === 'Enter' || event.key === 'x') && ACTIVATABLE_TAGS.has(event.target?.tagName ?? '')) return null;
  switch (event.key) {
    case '/':
      return 'focus-search';
    case 'j':
    case 'ArrowDown':
      return 'next';
    case 'k':
    case 'ArrowUp':
      return 'previous';
    case 'Enter':
      return 'open';
    case 'x':
      return 'toggle';
    case '?':
      return 'help';
    default:
      return null;
  }
}
