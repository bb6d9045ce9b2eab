import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AGENT_SETTINGS_NAMESPACE, AgentSettings, ConfigApplyParams, type ConfigReport, type ConfigValues } from '../../protocol/config.js';
import type { AgentSettingsStore } from './agent-settings.js';
import { runApplyHook } from './apply-hook.js';
import { writeFileAtomic } from './atomic-file.js';

export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;

/**
 * Where the config lives in the state dir: `config/config.json` is what the device's software reads;
 * `config/last-good.json` is the newest config whose apply succeeded, the one restored after a failure.
 */
export const CONFIG_DIR = 'config';
export const CONFIG_FILE = 'config.json';
export const LAST_GOOD_FILE = 'last-good.json';
/** An executable at this path in the state dir is the apply hook, unless TETHER_CONFIG_APPLY_HOOK names another. */
export const HOOK_FILE = 'apply-hook';

const StoredConfig = z.object({ version: z.number().int().nonnegative(), config: z.record(z.string(), z.record(z.string(), z.json())) });
type StoredConfig = z.infer<typeof StoredConfig>;

export interface ConfigApplierOptions {
  stateDir: string;
  log: Logger;
  settings: AgentSettingsStore;
  /** The apply hook; null: none (apply = validate and write). */
  hookPath: string | null;
  hookTimeoutMs?: number;
}

/** The hook named (TETHER_CONFIG_APPLY_HOOK), else `<state>/apply-hook` when present, else none. */
export function resolveHookPath(stateDir: string, named?: string): string | null {
  if (named) return named;
  const inState = join(stateDir, HOOK_FILE);
  return existsSync(inState) ? inState : null;
}

/**
 * The apply hook and its timeout: `hook` (TETHER_CONFIG_APPLY_HOOK, the path of an executable;
 * default `<state>/apply-hook` when present) and `timeoutMs` (TETHER_CONFIG_HOOK_TIMEOUT_MS, default 30 s).
 */
export function configHookOptions(stateDir: string, options: { hook?: string; timeoutMs?: number }): Pick<ConfigApplierOptions, 'hookPath' | 'hookTimeoutMs'> {
  return { hookPath: resolveHookPath(stateDir, options.hook), hookTimeoutMs: options.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS };
}

/**
 * Applies configs the backend sends: validate, write atomically, run the apply hook, keep or
 * restore, and report `{version, status, error}`. Applies run one at a time in arrival order.
 */
export class ConfigApplier {
  private readonly dir: string;
  private lastGood: StoredConfig | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ConfigApplierOptions) {
    this.dir = join(options.stateDir, CONFIG_DIR);
  }

  /**
   * Loads the last good config at start, so settings hold across restarts; a `config.json` that
   * differs (a crash in the middle of an apply) is put back to the last good one.
   */
  load(): StoredConfig | null {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.lastGood = readStored(join(this.dir, LAST_GOOD_FILE));
    const current = readStored(join(this.dir, CONFIG_FILE));
    if (this.lastGood && JSON.stringify(current) !== JSON.stringify(this.lastGood)) this.write(CONFIG_FILE, this.lastGood);
    if (this.lastGood) this.applySettings(this.lastGood.config);
    return this.lastGood;
  }

  /** The version last applied successfully, if any. */
  get appliedVersion(): number | null {
    return this.lastGood?.version ?? null;
  }

  apply(params: unknown): Promise<ConfigReport> {
    const next = this.chain.then(() => this.applyNow(params));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async applyNow(params: unknown): Promise<ConfigReport> {
    const { log } = this.options;
    const parsed = ConfigApplyParams.safeParse(params);
    const version = typeof params === 'object' && params !== null && 'version' in params && typeof params.version === 'number' ? params.version : 0;
    if (!parsed.success) return this.report(log, { version, status: 'rejected', error: `not a valid config: ${parsed.error.issues[0]?.message ?? ''}` });
    const settings = AgentSettings.safeParse(parsed.data.config[AGENT_SETTINGS_NAMESPACE] ?? {});
    if (!settings.success) {
      const issue = settings.error.issues[0];
      return this.report(log, { version, status: 'rejected', error: `agent settings: /${issue?.path.join('/') ?? ''} ${issue?.message ?? ''}` });
    }
    const candidate: StoredConfig = { version, config: parsed.data.config };
    // A reconnect resends the current config; applying it again would rerun the hook for nothing.
    if (this.lastGood && JSON.stringify(this.lastGood) === JSON.stringify(candidate)) return { version, status: 'applied', error: null };

    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.write(CONFIG_FILE, candidate);
    const hook = this.options.hookPath;
    if (hook) {
      const result = await runApplyHook(hook, [join(this.dir, CONFIG_FILE)], {
        TETHER_CONFIG_FILE: join(this.dir, CONFIG_FILE),
        TETHER_CONFIG_VERSION: String(version),
        TETHER_CONFIG_PREVIOUS_VERSION: String(this.lastGood?.version ?? ''),
      }, this.options.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS);
      if (!result.ok) {
        this.restore();
        return this.report(log, { version, status: 'failed', error: result.error });
      }
    }
    this.write(LAST_GOOD_FILE, candidate);
    this.lastGood = candidate;
    this.applySettings(candidate.config);
    return this.report(log, { version, status: 'applied', error: null });
  }

  /** Puts the last good config back in place (or removes the file when there was none). */
  private restore(): void {
    if (this.lastGood) this.write(CONFIG_FILE, this.lastGood);
    else rmSync(join(this.dir, CONFIG_FILE), { force: true });
  }

  private applySettings(config: ConfigValues): void {
    const settings = AgentSettings.safeParse(config[AGENT_SETTINGS_NAMESPACE] ?? {});
    if (settings.success) this.options.settings.update(settings.data);
  }

  private write(name: string, stored: StoredConfig): void {
    writeFileAtomic(join(this.dir, name), `${JSON.stringify(stored, null, 2)}\n`);
  }

  private report(log: Logger, report: ConfigReport): ConfigReport {
    if (report.status === 'applied') log.info({ version: report.version }, 'config applied');
    else log.warn({ version: report.version, status: report.status, error: report.error }, 'config not applied');
    return report;
  }
}

function readStored(path: string): StoredConfig | null {
  try {
    const parsed = StoredConfig.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
