import type { Terminal } from '@xterm/xterm';

/** An asciicast v2 file's output and resize events (the header is the first line). */
export function parseCast(text: string): { cols: number; rows: number; events: Array<{ t: number; kind: string; data: string }> } {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const header = JSON.parse(lines[0] ?? '{}') as { width?: number; height?: number };
  const events = lines.slice(1).flatMap((line) => {
    try {
      const [t, kind, data] = JSON.parse(line) as [number, string, string];
      return typeof t === 'number' && typeof kind === 'string' && typeof data === 'string' ? [{ t, kind, data }] : [];
    } catch {
      return [];
    }
  });
  return { cols: header.width ?? 80, rows: header.height ?? 24, events };
}

/**
 * Plays a recording into a terminal at `speed`, idle gaps capped at `maxGapS` (as asciinema's
 * player does), so a session left open for an hour replays in seconds. Returns a stop function.
 */
export function play(term: Terminal, cast: ReturnType<typeof parseCast>, speed = 1, maxGapS = 1): () => void {
  let stopped = false;
  let i = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  term.resize(cast.cols, cast.rows);
  const step = () => {
    if (stopped) return;
    const e = cast.events[i++];
    if (!e) return;
    if (e.kind === 'o') term.write(e.data);
    else if (e.kind === 'r') {
      const [c, r] = e.data.split('x').map(Number);
      if (c && r) term.resize(c, r);
    }
    const next = cast.events[i];
    if (!next) return;
    const gap = Math.min(maxGapS, Math.max(0, next.t - e.t)) / speed;
    timer = setTimeout(step, gap * 1000);
  };
  step();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
