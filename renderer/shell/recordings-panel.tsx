import { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import { ShellSessionList, type ShellSessionInfo } from '../../protocol/index.js';
import { parseCast, play } from './asciicast-player.js';
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
            {new Date(s.startedAt).toLocaleString()} · {s.username} · {s.live ? 'live' : `ended${s.exitCode !== null ? ` (exit ${s.exitCode})` : s.endCode ? ` (${s.endCode})` : ''}`} · {s.outputBytes} bytes{' '}
            {s.hasRecording && !s.live && (
              <>
                <button type="button" data-testid="recording-play" onClick={() => setPlaying(s.id)}>Play</button>{' '}
                <a href={`/api/v1/shell/sessions/${s.id}/recording`} download={`${s.id}.cast`}>Download</a>
              </>
            )}
          </li>
        ))}
      </ul>
      {playing && <Player key={playing} sessionId={playing} />}
    </details>
  );
}

function Player({ sessionId }: { sessionId: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const stopMirror = mirrorInlineStyles(el);
    const term = new Terminal({ disableStdin: true, fontSize: 13, scrollback: 5000, theme: terminalTheme(readThemeColors()) });
    const stopTheme = onThemeColorsChange((colors) => (term.options.theme = terminalTheme(colors)));
    term.open(el);
    let stop: () => void = () => undefined;
    void fetch(`/api/v1/shell/sessions/${sessionId}/recording`, { credentials: 'same-origin' })
      .then((res) => res.text())
      .then((text) => (stop = play(term, parseCast(text), 2)));
    return () => {
      stopTheme();
      stop();
      term.dispose();
      stopMirror();
    };
  }, [sessionId]);
  return <div className="terminal-box" ref={box} data-testid="recording-player" />;
}
