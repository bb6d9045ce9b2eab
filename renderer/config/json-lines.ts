/**
 * Where things are in a JSON text, by line, so the config editor can show an error at its line.
 * A tiny scanner over text that JSON.parse has already accepted (so it needs no error handling);
 * no JSON parser with source positions ships with the console's dependencies.
 */

const segment = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1');

interface Frame {
  path: string;
  array: boolean;
  index: number;
  key: string;
  expectKey: boolean;
}

const childPath = (frame: Frame): string => `${frame.path}/${frame.array ? String(frame.index) : segment(frame.key)}`;

/** The 1-based line of every JSON Pointer in valid JSON `text`: an object member's key, an array element's first character. */
export function pointerLines(text: string): Map<string, number> {
  const lines = new Map<string, number>([['', 1]]);
  const stack: Frame[] = [];
  let line = 1;
  let i = 0;
  const elementStarts = (top: Frame | undefined): void => {
    if (top?.array && !lines.has(childPath(top))) lines.set(childPath(top), line);
  };
  while (i < text.length) {
    const c = text[i];
    const top = stack.at(-1);
    if (c === '\n') {
      line++;
      i++;
    } else if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      end++;
      if (top && !top.array && top.expectKey) {
        top.key = JSON.parse(text.slice(i, end)) as string;
        top.expectKey = false;
        lines.set(childPath(top), line);
      } else elementStarts(top);
      i = end;
    } else if (c === ',') {
      if (top?.array) top.index++;
      else if (top) top.expectKey = true;
      i++;
    } else if (c === '{' || c === '[') {
      elementStarts(top);
      stack.push({ path: top ? childPath(top) : '', array: c === '[', index: 0, key: '', expectKey: c === '{' });
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === ':' || c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else {
      elementStarts(top);
      while (i < text.length && !/[\s,\]}]/.test(text[i] ?? '')) i++;
    }
  }
  return lines;
}

/** The line of `pointer`, or of its nearest ancestor that is in the text (a missing key is reported at its parent). */
export function lineOf(lines: ReadonlyMap<string, number>, pointer: string): number {
  for (let p = pointer; ; p = p.slice(0, p.lastIndexOf('/'))) {
    const line = lines.get(p);
    if (line !== undefined) return line;
    if (p === '') return 1;
  }
}

/** The line a JSON.parse error is at, from its message ("… (line 3 column 5)" or "… at position 42"). */
export function syntaxErrorLine(text: string, message: string): number | null {
  const lineColumn = /line (\d+) column \d+/.exec(message);
  if (lineColumn?.[1]) return Number(lineColumn[1]);
  const position = /position (\d+)/.exec(message);
  if (position?.[1]) return text.slice(0, Number(position[1])).split('\n').length;
  if (/end of (JSON )?input/i.test(message)) return text.trimEnd().split('\n').length;
  return null;
}
