import { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import { escapeControlCharacters as visible, parseAsciicast, ShellSessionList, type ShellSessionInfo } from '../../protocol/index.js';
import { CastPlayer, castTimeline, formatClock, type CastPlayerState } from './asciicast-player.js';
import { mirrorInlineStyles } from './csp-style-mirror.js';
import { onThemeColorsChange, readThemeColors, terminalTheme } from '../theme/theme-colors.js';

/** The device's recorded sessions: play one in the console, or download it (asciicast v2). */
export function RecordingsPanel({ deviceId }: { deviceId: string }) {
  const [sessions, setSessions] = useState<ShellSessionInfo[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [playing, setPlaying] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    fetch(`/api/v1/shell/sessions?deviceId=${encodeURIComponent(deviceId)}`, { credentials: 'same-origin' })
      .then(async (res) => {
        const parsed = ShellSessionList.safeParse(await res.json());
        if (cancelled) return;
        if (parsed.success) setSessions(parsed.data.sessions);
        else setError(`Cannot list recordings (HTTP ${res.status})`);
      })
      .catch((err: unknown) => !cancelled && setError(String(err)));
    return () => {
      cancelled = true;
    };
  }, [deviceId]);

  const playingSession = sessions.find((s) => s.id === playing);
  return (
    <details className="recordings" data-testid="recordings">
      <summary>Recorded sessions ({sessions.length})</summary>
      {error && <p role="alert">{error}</p>}
      {error === null && !sessions.some((s) => s.hasRecording && !s.live) && (
        <p className="muted" data-testid="recordings-empty">
          Every terminal session is recorded. When one ends, it can be played back here (with pause, speed and seek) or downloaded as an asciicast file.
        </p>
      )}
      <ul>
        {sessions.map((s) => (
          <li key={s.id} data-testid="recording">
            {new Date(s.startedAt).toLocaleString()} · {visible(s.username)} · {s.live ? 'live' : `ended${s.exitCode !== null ? ` (exit ${s.exitCode})` : s.endCode ? ` (${s.endCode})` : ''}`} · {s.outputBytes} bytes{' '}
            {s.hasRecording && !s.live && (
              <>
                <button type="button" data-testid="recording-play" onClick={() => setPlaying(s.id)}>Play</button>{' '}
                <a href={`/api/v1/shell/sessions/${s.id}/recording`} download={`${s.id}.cast`}>Download</a>
              </>
            )}
          </li>
        ))}
      </ul>
      {playingSession && <Player key={playingSession.id} session={playingSession} onClose={() => setPlaying(null)} />}
    </details>
  );
}

const SPEEDS = [0.5, 1, 2, 4, 8];

/**
 * A recording in a modal dialog sized to the window: its own xterm (a recording keeps its
 * recorded size; a wider one scrolls inside the dialog, never widening the page), with
 * play/pause, speed, a seek bar and the position and length of the recording.
 */
function Player({ session, onClose }: { session: ShellSessionInfo; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const [player, setPlayer] = useState<CastPlayer | null>(null);
  const [state, setState] = useState<CastPlayerState | null>(null);
  const [position, setPosition] = useState(0);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const stopMirror = mirrorInlineStyles(el);
    const term = new Terminal({ disableStdin: true, fontFamily: 'ui-monospace, Menlo, Consolas, monospace', fontSize: 12, scrollback: 5000, theme: terminalTheme(readThemeColors()) });
    const stopTheme = onThemeColorsChange((colors) => (term.options.theme = terminalTheme(colors)));
    term.open(el);
    let current: CastPlayer | null = null;
    let cancelled = false;
    fetch(`/api/v1/shell/sessions/${session.id}/recording`, { credentials: 'same-origin' })
      .then(async (res) => {
        if (!res.ok) throw new Error(`Cannot load the recording (HTTP ${res.status})`);
        const text = await res.text();
        if (cancelled) return;
        current = new CastPlayer(term, castTimeline(parseAsciicast(text)), (next) => {
          setState(next);
          setPosition(next.position);
        });
        setPlayer(current);
        current.play();
      })
      .catch((err: unknown) => !cancelled && setError(err instanceof Error ? err.message : String(err)));
    return () => {
      cancelled = true;
      current?.dispose();
      stopTheme();
      term.dispose();
      stopMirror();
    };
  }, [session.id]);

  // The clock and the seek bar move between frames too.
  const playing = state?.playing ?? false;
  useEffect(() => {
    if (!player || !playing) return;
    const timer = setInterval(() => setPosition(player.currentTime()), 250);
    return () => clearInterval(timer);
  }, [player, playing]);

  const duration = player?.timeline.duration ?? 0;
  return (
    <dialog ref={dialog} className="recording-dialog" data-testid="recording-dialog" aria-label="Recording playback" onClose={onClose}>
      <header className="recording-header">
        <h3>
          Recording · {new Date(session.startedAt).toLocaleString()} · {session.username}
        </h3>
        <button type="button" aria-label="Close the recording" data-testid="recording-close" onClick={() => dialog.current?.close()}>
          ×
        </button>
      </header>
      {error !== null && <p role="alert" className="banner">{error}</p>}
      <div className="recording-screen" ref={box} data-testid="recording-player" />
      <div className="recording-controls">
        <button type="button" data-testid="recording-toggle" disabled={player === null} onClick={() => (playing ? player?.pause() : player?.play())}>
          {playing ? 'Pause' : 'Play'}
        </button>
        <input
          type="range"
          className="recording-seek"
          data-testid="recording-seek"
          aria-label="Position in the recording"
          min={0}
          max={duration}
          step={0.1}
          value={Math.min(position, duration)}
          disabled={player === null}
          onChange={(e) => player?.seek(Number(e.target.value))}
        />
        <span className="recording-clock">
          <span data-testid="recording-time">{formatClock(position)}</span> / <span data-testid="recording-duration">{formatClock(duration)}</span>
        </span>
        <label>
          Speed{' '}
          <select data-testid="recording-speed" value={state?.speed ?? 1} onChange={(e) => player?.setSpeed(Number(e.target.value))}>
            {SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s}×
              </option>
            ))}
          </select>
        </label>
      </div>
    </dialog>
  );
}
