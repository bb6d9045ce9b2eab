import type { Terminal } from '@xterm/xterm';
import type { Asciicast } from '../../protocol/index.js';

/**
 * Plays a recording into a terminal at `speed`, idle gaps capped at `maxGapS` (as asciinema's
 * player does), so a session left open for an hour replays in seconds. Returns a stop function.
 */
export function play(term: Terminal, cast: Asciicast, speed = 1, maxGapS = 1): () => void {
  let stopped = false;
  let i = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  term.resize(cast.header.width, cast.header.height);
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
