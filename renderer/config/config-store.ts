import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ConfigDeviceStatus, ConfigDiff, ConfigHistory, ConfigLayer, ConfigSelector, ConfigValidateResponse, EffectiveConfig } from '../../protocol/index.js';
import { toUiError, type UiError } from '../api/ui-error.js';
import type { ConfigApi } from './config-api.js';

/** The editor's verdict on the draft: JSON first (instant), then the backend's schema check. */
export type DraftCheck =
  | { state: 'ok' }
  | { state: 'checking' }
  | { state: 'invalid'; code: string; errors: Array<{ path: string; message: string }> };

export interface ConfigState {
  layers: readonly ConfigLayer[];
  selectedId: string | null;
  /** The editor text and the layer version it was loaded from (what a save names as expectedVersion). */
  draft: string;
  draftBaseVersion: number;
  draftCheck: DraftCheck;
  saving: boolean;
  saveError: UiError | null;
  history: ConfigHistory['revisions'];
  diff: ConfigDiff | null;
  status: readonly ConfigDeviceStatus[];
  effective: EffectiveConfig | null;
  /** The draft's result before saving: a device's effective config with the draft in place (the edited device, or the one whose effective config is shown). */
  preview: NonNullable<ConfigValidateResponse['effective']> | null;
  loadError: UiError | null;

  loadLayers(): Promise<void>;
  select(id: string, template?: Pick<ConfigLayer, 'selector' | 'priority'>): void;
  setDraft(text: string): void;
  save(message: string): Promise<boolean>;
  loadHistory(): Promise<void>;
  showDiff(from: number, to: number): Promise<void>;
  rollback(toVersion: number): Promise<void>;
  loadStatus(): Promise<void>;
  showEffective(deviceId: string): Promise<void>;
}

export type ConfigStore = StoreApi<ConfigState>;

const VALIDATE_DELAY_MS = 300;

export function createConfigStore({ api, validateDelayMs = VALIDATE_DELAY_MS }: { api: ConfigApi; validateDelayMs?: number }): ConfigStore {
  let validateTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped per draft change so a late validation answer for older text is dropped. */
  let draftGeneration = 0;
  /** A new group or device layer being created: its selector and priority until the first save. */
  let template: Pick<ConfigLayer, 'selector' | 'priority'> | undefined;

  return createStore<ConfigState>()((set, get) => ({
    layers: [],
    selectedId: null,
    draft: '',
    draftBaseVersion: 0,
    draftCheck: { state: 'ok' },
    saving: false,
    saveError: null,
    history: [],
    diff: null,
    status: [],
    effective: null,
    preview: null,
    loadError: null,

    async loadLayers() {
      try {
        const layers = await api.layers();
        set({ layers, loadError: null });
        const { selectedId } = get();
        if (selectedId === null) get().select('fleet');
      } catch (error) {
        set({ loadError: toUiError(error) });
      }
    },

    select(id, newTemplate) {
      template = newTemplate;
      const layer = get().layers.find((l) => l.id === id);
      draftGeneration += 1;
      clearTimeout(validateTimer);
      set({
        selectedId: id,
        draft: `${JSON.stringify(layer?.values ?? {}, null, 2)}\n`,
        draftBaseVersion: layer?.version ?? 0,
        draftCheck: { state: 'ok' },
        saveError: null,
        diff: null,
        history: [],
        preview: null,
      });
      void get().loadHistory();
    },

    setDraft(text) {
      draftGeneration += 1;
      const mine = draftGeneration;
      clearTimeout(validateTimer);
      let values: unknown;
      try {
        values = JSON.parse(text);
      } catch (error) {
        set({ draft: text, preview: null, draftCheck: { state: 'invalid', code: 'JSON', errors: [{ path: '', message: error instanceof Error ? error.message : 'Not JSON' }] } });
        return;
      }
      set({ draft: text, draftCheck: { state: 'checking' } });
      const layerId = get().selectedId;
      if (layerId === null) return;
      validateTimer = setTimeout(() => {
        const previewDeviceId = layerId.startsWith('device:') ? layerId.slice('device:'.length) : get().effective?.deviceId;
        api.validate(layerId, values, previewDeviceId).then(
          (result) => {
            if (mine !== draftGeneration) return;
            set({ preview: result.effective ?? null, draftCheck: result.ok ? { state: 'ok' } : { state: 'invalid', code: result.code ?? 'CONFIG_INVALID', errors: result.errors } });
          },
          (error: unknown) => {
            if (mine !== draftGeneration) return;
            const ui = toUiError(error);
            set({ draftCheck: { state: 'invalid', code: ui.code, errors: [{ path: '', message: ui.message }] } });
          },
        );
      }, validateDelayMs);
    },

    async save(message) {
      const { selectedId, draft, draftBaseVersion } = get();
      if (selectedId === null) return false;
      let values: unknown;
      try {
        values = JSON.parse(draft);
      } catch {
        return false;
      }
      set({ saving: true, saveError: null });
      try {
        const selector: ConfigSelector | undefined = template?.selector;
        const layer = await api.putLayer(selectedId, { values: values as ConfigLayer['values'], expectedVersion: draftBaseVersion, message, selector, priority: template?.priority });
        template = undefined;
        const layers = [...get().layers.filter((l) => l.id !== layer.id), layer];
        set({ saving: false, layers, draftBaseVersion: layer.version });
        void get().loadHistory();
        void get().loadStatus();
        return true;
      } catch (error) {
        // A conflict keeps the draft: the user reloads the layer and reapplies their edit knowingly.
        set({ saving: false, saveError: toUiError(error) });
        return false;
      }
    },

    async loadHistory() {
      const target = get().selectedId;
      if (target === null) return;
      try {
        const { revisions } = await api.history(target);
        if (get().selectedId === target) set({ history: revisions });
      } catch (error) {
        set({ loadError: toUiError(error) });
      }
    },

    async showDiff(from, to) {
      const target = get().selectedId;
      if (target === null) return;
      try {
        set({ diff: await api.diff(target, from, to) });
      } catch (error) {
        set({ loadError: toUiError(error) });
      }
    },

    async rollback(toVersion) {
      const { selectedId, layers } = get();
      if (selectedId === null) return;
      const current = layers.find((l) => l.id === selectedId);
      try {
        await api.rollback(selectedId, toVersion, current?.version ?? 0);
        await get().loadLayers();
        get().select(selectedId);
        void get().loadStatus();
      } catch (error) {
        set({ saveError: toUiError(error) });
      }
    },

    async loadStatus() {
      try {
        const { devices } = await api.status();
        set({ status: devices });
        const shown = get().effective?.deviceId;
        if (shown !== undefined) void get().showEffective(shown);
      } catch (error) {
        set({ loadError: toUiError(error) });
      }
    },

    async showEffective(deviceId) {
      try {
        set({ effective: await api.effective(deviceId) });
      } catch (error) {
        set({ loadError: toUiError(error) });
      }
    },
  }));
}
