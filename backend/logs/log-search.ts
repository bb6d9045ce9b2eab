import type { LogSearchQuery, StoredLogLine } from '../../protocol/index.js';
import type { LogStore, LogTerm } from './log-store.js';
import { logTokens } from './log-tokens.js';

const MAX_TERMS = 16;

/**
 * What a user typed as search terms, all of which must match: whitespace separates terms, a term
 * in double quotes is a phrase ("disk full"), a trailing `*` makes the last token a prefix (`err*`,
 * `"disk fu"*`). Punctuation inside a term splits it into tokens that must follow one another
 * (`eth0:up`, `foo-bar`); nothing a user types is query syntax beyond that, so `OR`, `NOT`, `-x`,
 * `NEAR(...)` or a stray `"` search for themselves and never cause an error.
 * Returns undefined for a blank query (no text condition). A term without any token (only
 * punctuation) is ignored, as SQLite FTS5 ignores an empty phrase; if no term has a token,
 * the result is an empty list, which matches nothing.
 */
export function parseLogQuery(text: string): LogTerm[] | undefined {
  const items: Array<{ text: string; prefix: boolean }> = [];
  let i = 0;
  while (i < text.length && items.length < MAX_TERMS) {
    const ch = text.charAt(i);
    if (/\s/u.test(ch)) {
      i++;
    } else if (ch === '"') {
      const close = text.indexOf('"', i + 1);
      const end = close === -1 ? text.length : close;
      let next = close === -1 ? end : end + 1;
      const prefix = text.charAt(next) === '*';
      while (text.charAt(next) === '*') next++;
      items.push({ text: text.slice(i + 1, end), prefix });
      i = next;
    } else {
      let end = i;
      while (end < text.length && text.charAt(end) !== '"' && !/\s/u.test(text.charAt(end))) end++;
      const word = text.slice(i, end);
      items.push({ text: word, prefix: word.endsWith('*') });
      i = end;
    }
  }
  if (items.length === 0) return undefined;
  return items.map((item) => ({ tokens: logTokens(item.text), prefix: item.prefix })).filter((term) => term.tokens.length > 0);
}

/** Full-text and range search over stored log lines, newest first. */
export class LogSearch {
  constructor(private readonly store: LogStore) {}

  async search(q: LogSearchQuery): Promise<StoredLogLine[]> {
    const terms = q.q === undefined ? undefined : parseLogQuery(q.q);
    if (terms?.length === 0) return [];
    return this.store.search({ terms, deviceId: q.deviceId, from: q.from, to: q.to, limit: q.limit });
  }
}
