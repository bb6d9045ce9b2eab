import { escapeControlCharacters } from '../protocol/index.js';

/**
 * Text from the backend or a device shown on the operator's terminal: control characters are
 * escaped (`\u001b`), so an ESC in a device name or a command's output cannot recolour, move the
 * cursor or rewrite what the operator sees. Newlines and tabs are layout and pass.
 */
export function terminalSafe(text: string): string {
  return escapeControlCharacters(text, '\n\t');
}

/** Columns padded to the widest cell, cells escaped; the last column is not padded. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const cells = [header, ...rows].map((row) => row.map((cell) => escapeControlCharacters(cell)));
  const widths = header.map((_, col) => Math.max(...cells.map((row) => [...(row[col] ?? '')].length)));
  return cells
    .map((row) => row.map((cell, col) => (col === row.length - 1 ? cell : cell + ' '.repeat((widths[col] ?? 0) - [...cell].length))).join('  ').trimEnd())
    .join('\n')
    .concat('\n');
}

/** "3 s ago", "2 h ago": enough for a table; null when never seen. */
export function ago(then: number | null, now: number): string {
  if (then === null) return 'never';
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/**
 * One line of JSON for `--json`. JSON.stringify escapes C0 controls but leaves DEL and the C1
 * controls (U+009B is a CSI to some terminals) as they are; they can only occur inside strings,
 * where `\u009b` means the same, so they are escaped too.
 */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}
