import { escapeControlCharacters as visible } from '../../protocol/index.js';
import { useState } from 'react';
import { DeviceLinks } from '../fleet/device-links.js';
import { useDevice } from '../fleet/fleet-hooks.js';
import { useConsoleHost } from '../host/host-context.js';
import { CommandPanel } from './command-panel.js';
import { RecordingsPanel } from './recordings-panel.js';
import { TerminalPane } from './terminal-pane.js';
import './shell.css';

/** A device's terminals: several tabs, each its own PTY session on the device. */
export function ShellView({ deviceId }: { deviceId: string }) {
  const device = useDevice(deviceId);
  const { desktop } = useConsoleHost();
  const [tabs, setTabs] = useState<number[]>([1]);
  const [active, setActive] = useState(1);
  const [next, setNext] = useState(2);
  const add = () => {
    setTabs((t) => [...t, next]);
    setActive(next);
    setNext((n) => n + 1);
  };
  const close = (tab: number) => {
    const left = tabs.filter((t) => t !== tab);
    setTabs(left);
    if (active === tab) setActive(left.at(-1) ?? 0);
  };
  return (
    <section className="shell-view" data-testid="shell-view">
      <header className="shell-header">
        <a href="#/">← Fleet</a>
        <h2 title={visible(device?.name ?? deviceId)} data-testid="shell-device-name">{visible(device?.name ?? deviceId)}</h2>
        <span className="muted">{device?.online === false ? 'offline' : ''}</span>
        <DeviceLinks deviceId={deviceId} current="shell" />
        {desktop !== null && (
          <button type="button" data-testid="terminal-pop-out" onClick={() => desktop.terminal.popOut(deviceId).catch((error: unknown) => console.warn('cannot pop out', error))}>
            Open in new window
          </button>
        )}
      </header>
      <nav className="terminal-tabs" aria-label="Terminals">
        {tabs.map((tab) => (
          <span key={tab} className={`terminal-tab${tab === active ? ' is-active' : ''}`} data-testid="terminal-tab" data-active={tab === active}>
            <button type="button" aria-current={tab === active ? 'true' : undefined} onClick={() => setActive(tab)}>
              Terminal {tab}
            </button>
            <button type="button" aria-label={`Close terminal ${tab}`} data-testid="terminal-close" onClick={() => close(tab)}>
              ×
            </button>
          </span>
        ))}
        <button type="button" data-testid="terminal-new-tab" onClick={add}>
          + New terminal
        </button>
      </nav>
      {tabs.map((tab) => (
        <TerminalPane key={tab} deviceId={deviceId} active={tab === active} />
      ))}
      <CommandPanel deviceId={deviceId} />
      <RecordingsPanel deviceId={deviceId} />
    </section>
  );
}
