import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { createDesktopBridge, desktopApiFromBridge } from '../../protocol/index.js';
import { DesktopGate } from './backends-view.js';
import { browserHost, desktopHost } from './host.js';

// No DOM: React renders to a string, the hash is the server snapshot ('').
const desktop = desktopApiFromBridge(createDesktopBridge(async () => ({ ok: true, value: { profiles: [], activeId: null } })));
const render = (host: Parameters<typeof DesktopGate>[0]['host']) =>
  renderToStaticMarkup(
    <DesktopGate host={host}>
      <p data-testid="console">console</p>
    </DesktopGate>,
  );

describe('DesktopGate', () => {
  it('shows the console in a browser', () => {
    expect(render(browserHost({ protocol: 'https:', host: 'fleet.example' }))).toContain('data-testid="console"');
  });

  it('shows the backends view, with no way back, while the desktop app has no backend', () => {
    const html = render(desktopHost(desktop, null));
    expect(html).toContain('data-testid="backends-view"');
    expect(html).toContain('aria-label="CA pin"');
    expect(html).not.toContain('data-testid="console"');
    expect(html).not.toContain('← Console');
  });

  it('shows the console once a backend is selected', () => {
    expect(render(desktopHost(desktop, 'wss://fleet.example'))).toContain('data-testid="console"');
  });
});
