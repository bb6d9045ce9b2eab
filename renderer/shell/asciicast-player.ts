import type { Asciicast } from '../../protocol/index.js';

export interface CastTimeline {
  cols: number;
  rows: number;
  /** `at`: seconds on the playback timeline, idle gaps already capped. */
  events: Array<{ at: number; kind: string; data: string }>;
  /** Seconds from the first frame to the last, as played. */
  duration: number;
}

/**
 * The playback timeline of a recording: idle gaps capped at `maxGapS` (asciinema's
 * idle_time_limit), so a session left open for an hour plays, seeks and shows its length in
 * seconds of activity.
 */
export function castTimeline(cast: Asciicast, maxGapS = 1): CastTimeline {
  let at = 0;
  let previous: number | null = null;
  const events = cast.events.map((e) => {
    if (previous !== null) at += Math.min(maxGapS, Math.max(0, e.t - previous));
    previous = e.t;
    return { at, kind: e.kind, data: e.data };
  });
  return { cols: cast.header.width, rows: cast.header.height, events, duration: at };
}

/** What a player draws on: an xterm Terminal, or a fake in tests. */
export interface CastScreen {
  write(data: string): void;
  reset(): void;
  resize(cols: number, rows: number): void;
}

export interface CastPlayerState {
  playing: boolean;
  /** Seconds on the timeline. */
  position: number;
  speed: number;
  ended: boolean;
}

interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

const realClock: Clock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Plays a timeline onto a screen: play, pause, speed and seek (a seek redraws from the start up to the new position). */
export class CastPlayer {
  private next = 0;
  private position = 0;
  private playing = false;
  private speed = 1;
  private timer: unknown = null;
  /** Wall time (ms) at which `position` was last set while playing. */
  private since = 0;

  constructor(
    private readonly screen: CastScreen,
    readonly timeline: CastTimeline,
    private readonly onChange: (state: CastPlayerState) => void = () => undefined,
    private readonly clock: Clock = realClock,
  ) {
    screen.resize(timeline.cols, timeline.rows);
  }

  state(): CastPlayerState {
    return { playing: this.playing, position: this.currentTime(), speed: this.speed, ended: this.next >= this.timeline.events.length };
  }

  /** The position now, between frames too (for a moving clock and seek bar). */
  currentTime(): number {
    if (!this.playing) return this.position;
    const moved = this.position + ((this.clock.now() - this.since) / 1000) * this.speed;
    const upcoming = this.timeline.events[this.next];
    return Math.min(upcoming?.at ?? this.timeline.duration, moved);
  }

  play(): void {
    if (this.playing) return;
    if (this.next >= this.timeline.events.length) this.seek(0);
    this.playing = true;
    this.since = this.clock.now();
    this.schedule();
    this.emit();
  }

  pause(): void {
    if (!this.playing) return;
    this.position = this.currentTime();
    this.playing = false;
    this.cancel();
    this.emit();
  }

  setSpeed(speed: number): void {
    this.position = this.currentTime();
    this.since = this.clock.now();
    this.speed = speed;
    if (this.playing) this.schedule();
    this.emit();
  }

  seek(seconds: number): void {
    const to = Math.max(0, Math.min(this.timeline.duration, seconds));
    this.cancel();
    this.screen.reset();
    this.screen.resize(this.timeline.cols, this.timeline.rows);
    this.next = 0;
    // Consecutive output is written in one piece: a seek into a long session stays one write.
    let pending = '';
    for (const event of this.timeline.events) {
      if (event.at > to) break;
      if (event.kind === 'o') pending += event.data;
      else if (event.kind === 'r') {
        if (pending) this.screen.write(pending);
        pending = '';
        this.applyResize(event.data);
      }
      this.next++;
    }
    if (pending) this.screen.write(pending);
    this.position = to;
    this.since = this.clock.now();
    if (this.playing) this.schedule();
    this.emit();
  }

  dispose(): void {
    this.playing = false;
    this.cancel();
  }

  private schedule(): void {
    this.cancel();
    const event = this.timeline.events[this.next];
    if (!event) {
      this.playing = false;
      this.position = this.timeline.duration;
      this.emit();
      return;
    }
    const wait = Math.max(0, ((event.at - this.currentTime()) * 1000) / this.speed);
    this.timer = this.clock.setTimer(() => this.step(), wait);
  }

  private step(): void {
    this.timer = null;
    const event = this.timeline.events[this.next];
    if (!this.playing || !event) return;
    if (event.kind === 'o') this.screen.write(event.data);
    else if (event.kind === 'r') this.applyResize(event.data);
    this.next++;
    this.position = event.at;
    this.since = this.clock.now();
    this.schedule();
    this.emit();
  }

  private applyResize(data: string): void {
    const [cols, rows] = data.split('x').map(Number);
    if (cols && rows) this.screen.resize(cols, rows);
  }

  private cancel(): void {
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
  }

  private emit(): void {
    this.onChange(this.state());
  }
}

/** 75 → "1:15". */
export function formatClock(seconds: number): string {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
