import { describe, expect, it } from 'vitest';
import { parseAsciicast } from '../../protocol/index.js';
import { CastPlayer, castTimeline, formatClock, type CastScreen } from './asciicast-player.js';

const CAST = parseAsciicast(['{"version":2,"width":80,"height":24}', '[0.5,"o","a"]', '[1.0,"o","b"]', '[3601.0,"o","c"]', '[3601.5,"r","100x30"]', '[3602.0,"o","d"]'].join('\n'));

/** A screen that keeps what was written, and a clock the test moves by hand. */
function rig() {
  const screen = { text: '', size: '', write(d: string) { this.text += d; }, reset() { this.text = ''; }, resize(c: number, r: number) { this.size = `${c}x${r}`; } } satisfies CastScreen & { text: string; size: string };
  let now = 0;
  const timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let ids = 0;
  const clock = {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => { timers.push({ at: now + ms, fn, id: ++ids }); return ids; },
    clearTimer: (id: unknown) => { const i = timers.findIndex((t) => t.id === id); if (i >= 0) timers.splice(i, 1); },
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const due = timers[0];
      if (!due || due.at > until) break;
      timers.shift();
      now = due.at;
      due.fn();
    }
    now = until;
  };
  return { screen, clock, advance };
}

describe('CastPlayer', () => {
  it('caps idle gaps on the timeline, so an hour of idling plays and shows as a second', () => {
    const timeline = castTimeline(CAST);
    expect(timeline.events.map((e) => e.at)).toEqual([0, 0.5, 1.5, 2, 2.5]);
    expect(timeline.duration).toBe(2.5);
    expect(formatClock(75)).toBe('1:15');
  });

  it('plays in time, pauses, resumes, and runs faster at a higher speed', () => {
    const { screen, clock, advance } = rig();
    const player = new CastPlayer(screen, castTimeline(CAST), undefined, clock);
    player.play();
    advance(0);
    expect(screen.text).toBe('a');
    advance(600);
    expect(screen.text).toBe('ab');
    player.pause();
    advance(5000);
    expect(screen.text).toBe('ab');
    expect(player.state()).toMatchObject({ playing: false, position: 0.6 });
    player.setSpeed(2);
    player.play();
    // 'c' is 0.9 s ahead on the timeline: 450 ms at double speed.
    advance(449);
    expect(screen.text).toBe('ab');
    advance(1);
    expect(screen.text).toBe('abc');
    advance(1000);
    expect(screen.text).toBe('abcd');
    expect(screen.size).toBe('100x30');
    expect(player.state()).toMatchObject({ playing: false, ended: true, position: 2.5 });
  });

  it('seeks back and forth by redrawing up to the new position', () => {
    const { screen, clock } = rig();
    const player = new CastPlayer(screen, castTimeline(CAST), undefined, clock);
    player.seek(2.2);
    expect(screen.text).toBe('abc');
    expect(screen.size).toBe('100x30');
    player.seek(0.7);
    expect(screen.text).toBe('ab');
    expect(screen.size).toBe('80x24');
    expect(player.state()).toMatchObject({ playing: false, position: 0.7 });
  });
});
