import { expect, it } from 'vitest';
import { LogSearchQuery, type LogLine } from '../../protocol/index.js';
import { LogSearch, parseLogQuery } from '../../backend/logs/log-search.js';
import type { NewLogLine } from '../../backend/logs/log-store.js';
import { logTokens } from '../../backend/logs/log-tokens.js';
import { describeEachEngine } from './engines.js';

const A = 'dev_aaaaaaaaaaaaaaaaaaaa';
const B = 'dev_bbbbbbbbbbbbbbbbbbbb';

/** Line n (1-based) gets id n and ts 1000 + n: newest first is highest id first. */
const LINES: Array<[string, string, string]> = [
  [A, 'disk full on /dev/sda1', 'kernel'],
  [A, 'Disk quota exceeded for user alice', 'quota'],
  [B, 'error: connection refused (errno=111)', 'sshd'],
  [B, 'errors while reading config', 'app'],
  [A, 'foo-bar baz', 'app'],
  [B, 'café au lait is ready', 'kitchen'],
  [A, 'ÉCOLE Straße İstanbul 日本語 テキスト', 'intl'],
  [B, 'user@example.com logged in from 10.0.0.12', 'auth'],
  [A, 'NOT OR AND NEAR(x y) "quoted" a*b', 'ops'],
  [B, 'full disk? no: the disk is fine', 'kernel'],
  [A, 'upgrade v1.2.3 done', 'apt'],
  [B, "it's a backslash \\ test", 'shell'],
];

const ALL = LINES.map((_, i) => LINES.length - i);

/** The user's query text → the ids found, newest first. */
const CASES: Array<[string, number[]]> = [
  // plain words, AND, case
  ['disk', [10, 2, 1]],
  ['DISK full', [10, 1]],
  ['disk nothing', []],
  ['err', []],
  // prefixes
  ['err*', [4, 3]],
  ['erro**', [4, 3]],
  ['"connection ref"*', [3]],
  ['"disk qu"*', [2]],
  ['d* f*', [10, 2, 1]],
  // phrases: quoted, or punctuation inside a word
  ['"disk full"', [1]],
  ['"full disk"', [10]],
  ['"full   DISK"', [10]],
  ['"disk full', [1]],
  ['foo-bar', [5]],
  ['bar-foo', []],
  ['errno=111', [3]],
  ['/dev/sda1', [1]],
  ['example.com', [8]],
  ['example', [8]],
  ['10.0.0.12', [8]],
  ['0.12', [8]],
  ['v1.2.3', [11]],
  ['2.3', [11]],
  ['1.2', []],
  // message and source are both searched, but a phrase does not run from one into the other
  ['kernel', [10, 1]],
  ['alice quota', [2]],
  ['"fine kernel"', []],
  // non-ASCII: case folding, diacritics, scripts without spaces
  ['cafe', [6]],
  ['CAFÉ', [6]],
  ['école', [7]],
  ['ecole', [7]],
  ['straße', [7]],
  ['strasse', []],
  ['istanbul', [7]],
  ['日本語', [7]],
  ['テキスト', [7]],
  // query syntax of either engine typed as text
  ['NOT', [9]],
  ['x OR y', [9]],
  ['NEAR(x', [9]],
  ['-disk', [10, 2, 1]],
  ['disk -full', [10, 1]],
  ['disk & full | !', [10, 1]],
  ['disk & !x', []],
  ['"quoted"', [9]],
  ['a*b', [9]],
  ["it's", [12]],
  ["'disk'", [10, 2, 1]],
  ['disk:*', [10, 2, 1]],
  ['"disk" <-> full', [10, 1]],
  // only punctuation: a term without a token; alone it matches nothing, next to a word it is ignored
  ['"', []],
  ['*', []],
  ['-', []],
  ['\\', []],
  ["'", []],
  ['disk -', [10, 2, 1]],
  // blank: no text condition
  ['', ALL],
  ['   ', ALL],
];

function lines(): NewLogLine[] {
  return LINES.map(([deviceId, message, source], i) => ({ deviceId, ts: 1000 + i + 1, level: i % 2 === 0 ? 'info' : 'error', source, message }));
}

describeEachEngine('log store', (store) => {
  async function seeded(): Promise<LogSearch> {
    const ids = await store().monitoring.logs.append(lines());
    expect(ids).toEqual(LINES.map((_, i) => i + 1));
    return new LogSearch(store().monitoring.logs);
  }

  it('finds the same lines for every query in the table', async () => {
    const search = await seeded();
    const found: Array<[string, number[]]> = [];
    for (const [q] of CASES) found.push([q, (await search.search(LogSearchQuery.parse({ q }))).map((l) => l.id)]);
    expect(found).toEqual(CASES);
  });

  it('returns whole lines and filters by device and time range, newest first, up to the limit', async () => {
    const search = await seeded();
    const [line] = await search.search(LogSearchQuery.parse({ q: 'quota' }));
    expect(line).toEqual({ id: 2, deviceId: A, ts: 1002, level: 'error', source: 'quota', message: 'Disk quota exceeded for user alice' });
    const ids = async (query: Record<string, unknown>) => (await search.search(LogSearchQuery.parse(query))).map((l) => l.id);
    expect(await ids({ q: 'disk', deviceId: A })).toEqual([2, 1]);
    expect(await ids({ q: 'disk', deviceId: B })).toEqual([10]);
    expect(await ids({ deviceId: B, limit: 3 })).toEqual([12, 10, 8]);
    expect(await ids({ from: 1003, to: 1006 })).toEqual([5, 4, 3]);
    expect(await ids({ q: 'disk', from: 1002, to: 1010 })).toEqual([2]);
    expect(await ids({ q: 'disk', limit: 2 })).toEqual([10, 2]);
  });

  it('orders by time, then id, whatever order the lines came in', async () => {
    const { logs } = store().monitoring;
    const ids = await logs.append([
      { deviceId: A, ts: 5, level: 'info', source: 's', message: 'late arrival' },
      { deviceId: A, ts: 9, level: 'info', source: 's', message: 'newest' },
      { deviceId: A, ts: 5, level: 'info', source: 's', message: 'same time' },
    ]);
    expect((await logs.search({ limit: 10 })).map((l) => l.id)).toEqual([ids[1], ids[2], ids[0]]);
  });

  it('agrees with a reference matcher on generated lines and queries', async () => {
    const words = ['disk', 'Disk', 'full', 'fuller', 'err', 'error', 'café', 'cafe', 'ÉTÉ', 'naïve', 'x1', '42', '日本', 'ünïcode', 'a'];
    const glue = [' ', ' ', ' ', '-', '.', ': ', '/', '=', ' (', ') ', ', '];
    // mulberry32: a small seeded generator, so a failure can be replayed.
    let seed = 7;
    const random = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
    };
    const pick = <T>(list: readonly T[]): T => list[random(list.length)] as T;
    const text = (n: number) => Array.from({ length: n }, (_, i) => (i > 0 ? pick(glue) : '') + pick(words)).join('');
    const generated: LogLine[] = Array.from({ length: 200 }, (_, i) => ({ ts: i, level: 'info', source: text(1 + random(2)), message: text(1 + random(6)) }));
    await store().monitoring.logs.append(generated.map((l) => ({ ...l, deviceId: A })));
    const search = new LogSearch(store().monitoring.logs);

    // A term matches when its tokens follow one another in the message or in the source.
    const holds = (tokens: string[], term: string[], prefix: boolean) => tokens.some((_, start) =>
      term.every((t, k) => {
        const token = tokens[start + k];
        return token !== undefined && (prefix && k === term.length - 1 ? token.startsWith(t) : token === t);
      }));
    const queries = Array.from({ length: 60 }, () => {
      const phrase = random(3) === 0;
      const q = phrase ? `"${text(2)}"` : text(1 + random(2)).replace(/[^\p{L}\p{N}]+/gu, ' ');
      return random(4) === 0 ? `${q.replace(/"$/u, '').slice(0, -1)}${phrase ? '"' : ''}*` : q;
    });
    for (const q of queries) {
      const terms = parseLogQuery(q) ?? [];
      const expected = generated
        .map((l, i) => ({ id: i + 1, l }))
        .filter(({ l }) => terms.length > 0 && terms.every((t) => [logTokens(l.message), logTokens(l.source)].some((tokens) => holds(tokens, [...t.tokens], t.prefix))))
        .map(({ id }) => id)
        .reverse();
      expect([q, (await search.search(LogSearchQuery.parse({ q, limit: 1000 }))).map((l) => l.id)]).toEqual([q, expected]);
    }
  });

  it('indexes a line with a token too long for PostgreSQL, and very many tokens', async () => {
    const { logs } = store().monitoring;
    const blob = 'x'.repeat(3000);
    const many = Array.from({ length: 5000 }, (_, i) => `w${i % 300}`).join(' ');
    await logs.append([{ deviceId: A, ts: 1, level: 'info', source: 'big', message: `payload ${blob} end` }, { deviceId: A, ts: 2, level: 'info', source: 'big', message: `${many} tail` }]);
    const search = new LogSearch(logs);
    expect((await search.search(LogSearchQuery.parse({ q: 'payload end' }))).map((l) => l.ts)).toEqual([1]);
    expect((await search.search(LogSearchQuery.parse({ q: '"w299 w0"' }))).map((l) => l.ts)).toEqual([2]);
    expect((await search.search(LogSearchQuery.parse({ q: 'tail big' }))).map((l) => l.ts)).toEqual([2]);
  });

  it('appends in one transaction with other monitoring writes: a rollback leaves no line', async () => {
    const { monitoring } = store();
    await expect(monitoring.transaction(async (tx) => {
      await tx.logs.append(lines());
      throw new Error('the batch failed');
    })).rejects.toThrow('the batch failed');
    expect(await monitoring.logs.search({ limit: 10 })).toEqual([]);
  });
});
