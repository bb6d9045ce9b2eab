/**
 * How log text splits into searchable tokens, the same way SQLite's FTS5 `unicode61` tokenizer
 * (with its default remove_diacritics=1) splits it, so that PostgreSQL, which gets its tokens from
 * here, finds the same lines as SQLite, which tokenizes in FTS5. Separators are spaces, punctuation,
 * symbols, controls and combining marks; everything else, unassigned code points included, is
 * part of a token. Tokens are case-folded; a Latin letter with one diacritic loses it (é → e), one
 * with several keeps them (ǖ), as FTS5 does. FTS5's tables date from Unicode 6.1: characters
 * assigned since then (newer emoji, Cherokee lower case) may split or fold differently.
 */

const SEPARATOR = /^[\p{Z}\p{P}\p{S}\p{Cc}\p{Cf}\p{Cs}\p{M}]$/u;
/** The combining marks FTS5 treats as part of a token and then drops (diacritics). */
const DROPPED_DIACRITIC = /^[\u0300-\u0304\u0306-\u030c\u030f\u0311\u031b\u0323-\u0328\u032d\u032e\u0330\u0331]$/u;
const COMBINING = /[\u0300-\u036f]/gu;
const LATIN_WITH_ONE_DIACRITIC = /^[a-z][\u0300-\u036f]$/u;

/** Simple (one code point to one) case folding, which is what FTS5 applies. */
function caseFold(ch: string): string {
  // Upper then lower folds µ, ſ, ς and the like as case folding does, except the Turkish dotless ı.
  if (ch === 'ı') return ch;
  const upper = ch.toUpperCase();
  const lower = [...upper].length === 1 ? upper.toLowerCase() : ch.toLowerCase();
  if ([...lower].length === 1) return lower;
  // İ lowers to i + combining dot above; FTS5 folds it to i.
  return lower.replace(COMBINING, '');
}

function fold(ch: string): string {
  const folded = caseFold(ch);
  const decomposed = folded.normalize('NFD');
  return LATIN_WITH_ONE_DIACRITIC.test(decomposed) ? decomposed.charAt(0) : folded;
}

/** The tokens of `text` in order, as FTS5 would index them. */
export function logTokens(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  for (const ch of text) {
    if (DROPPED_DIACRITIC.test(ch)) continue;
    if (!SEPARATOR.test(ch)) {
      current += fold(ch);
    } else if (current !== '') {
      tokens.push(current);
      current = '';
    }
  }
  if (current !== '') tokens.push(current);
  return tokens;
}
