import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { logTokens } from '../../backend/logs/log-tokens.js';

/** The tokens SQLite's FTS5 (unicode61, as logs_fts uses it) makes of each text, read back through fts5vocab. */
function fts5Tokens(texts: readonly string[]): string[][] {
  const db = new Database(':memory:');
  try {
    db.exec("CREATE VIRTUAL TABLE t USING fts5(x); CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');");
    const insert = db.prepare('INSERT INTO t(rowid, x) VALUES (?, ?)');
    db.transaction(() => texts.forEach((text, i) => insert.run(i + 1, text)))();
    const out: string[][] = texts.map(() => []);
    for (const row of db.prepare('SELECT term, doc FROM v ORDER BY doc, offset').iterate() as Iterable<{ term: string; doc: number }>) out[row.doc - 1]?.push(row.term);
    return out;
  } finally {
    db.close();
  }
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String.fromCodePoint(from + i));
}

describe('logTokens', () => {
  it('splits and folds like FTS5 for every character of the common scripts, alone, inside and next to a word', () => {
    const chars = [
      ...range(0x20, 0x24f), // ASCII, Latin-1, Latin Extended-A and -B
      ...range(0x300, 0x36f), // combining diacritics
      ...range(0x391, 0x3a1), ...range(0x3a3, 0x3ce), // Greek
      ...range(0x400, 0x482), ...range(0x48a, 0x4ff), // Cyrillic
      ...range(0x5d0, 0x5ea), ...range(0x621, 0x64a), ...range(0x905, 0x939), ...range(0xe01, 0xe30), // Hebrew, Arabic, Devanagari, Thai letters
      ...range(0x1e00, 0x1eff), // Latin Extended Additional
      ...range(0x2000, 0x2065), ...range(0x3000, 0x30ff), // punctuation (without the isolates of Unicode 6.3, after FTS5's tables), CJK punctuation and kana
      ...range(0x4e00, 0x4eff), ...range(0xac00, 0xacff), ...range(0xff01, 0xff5e), // CJK, Hangul, full-width forms
    ];
    const texts = chars.map((c) => `a${c}b ${c} X${c}${c}`);
    const expected = fts5Tokens(texts);
    const mismatches = texts.filter((t, i) => JSON.stringify(logTokens(t)) !== JSON.stringify(expected[i]));
    expect(mismatches).toEqual([]);
  });

  it('tokenizes log text as FTS5 does', () => {
    const texts = ['disk full on /dev/sda1', 'user@example.com from 10.0.0.12:22', "it's v1.2.3-rc1 ÉCOLE Straße İstanbul", 'e\u0301te\u0301 naïve ǖ', '日本語テキスト 한국어', '\t\n  ', ''];
    expect(texts.map(logTokens)).toEqual(fts5Tokens(texts));
    expect(logTokens('Disk FULL: café')).toEqual(['disk', 'full', 'cafe']);
  });
});
