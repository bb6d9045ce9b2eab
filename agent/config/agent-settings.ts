import type { AgentSettings } from '../../protocol/config.js';

export type SettingsListener = (settings: AgentSettings, previous: AgentSettings) => void;

/**
 * The agent's own settings from the reserved `agent` config namespace. Features read them through
 * {@link get} and {@link subscribe}, so a new config takes effect without a restart.
 */
export class AgentSettingsStore {
  private current: AgentSettings = {};
  private readonly listeners = new Set<SettingsListener>();

  get(): AgentSettings {
    return this.current;
  }

  /** Calls `listener` on every change (not at once); returns the unsubscribe. */
  subscribe(listener: SettingsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replaces the settings; listeners hear only real changes. A throwing listener does not stop the others. */
  update(next: AgentSettings): void {
    if (JSON.stringify(next) === JSON.stringify(this.current)) return;
    const previous = this.current;
    this.current = next;
    for (const listener of this.listeners) {
      try {
        listener(next, previous);
      } catch {
        // A feature's bug must not keep the others from their settings.
      }
    }
  }
}
