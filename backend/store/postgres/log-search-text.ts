import type { LogTerm } from '../../logs/log-store.js';
import { logTokens } from '../../logs/log-tokens.js';

/**
 * Log search on PostgreSQL as tsvector and tsquery literals made from the tokens SQLite's FTS5
 * makes (backend/logs/log-tokens.ts), so that both engines find the same lines. Cast with
 * ::tsvector and ::tsquery, which read a literal as it is, without PostgreSQL's text parser (whose
 * host, path, e-mail and version tokens FTS5 does not make). Bound as parameters, never spliced in.
 * Whoever inserts into logs on PostgreSQL writes `search` = searchVector(message, source)::tsvector.
 */

/** PostgreSQL refuses a lexeme this long; FTS5 has no limit (such a token is not searchable on PostgreSQL). */
const MAX_LEXEME_BYTES = 2047;

/** A lexeme in tsvector/tsquery literal syntax: quoted, with ' and \ escaped. */
function lexeme(token: string): string {
  return `'${token.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

function indexable(token: string): boolean {
  return Buffer.byteLength(token) <= MAX_LEXEME_BYTES;
}

/**
 * The tsvector literal of a line: message tokens from position 1, source tokens after a gap of one
 * position, so that a phrase never runs from the message into the source (FTS5 keeps them as two
 * columns).
 */
export function searchVector(message: string, source: string): string {
  const parts: string[] = [];
  let position = 0;
  for (const tokens of [logTokens(message), logTokens(source)]) {
    for (const token of tokens) {
      position++;
      // Positions above 16383 are stored as 16383 by PostgreSQL; messages are at most 16 KiB.
      if (indexable(token)) parts.push(`${lexeme(token)}:${position}`);
    }
    position++;
  }
  return parts.join(' ');
}

/** The tsquery literal of the terms: each a phrase (<->), the last token of a prefix term with :*, all ANDed. */
export function searchQuery(terms: readonly LogTerm[]): string | undefined {
  if (terms.some((t) => !t.tokens.every(indexable))) return undefined;
  return terms.map((t) => `(${t.tokens.map((token, i) => lexeme(token) + (t.prefix && i === t.tokens.length - 1 ? ':*' : '')).join(' <-> ')})`).join(' & ');
}
