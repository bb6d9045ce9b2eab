import { dirname } from 'node:path';

/** What packaging needs to know about the machine; gathered by dist.ts, decided here. */
export interface DistEnvironment {
  /** The installed `electron` package's version, or null when it is not installed. */
  electronVersion: string | null;
  /** From {@link electronBinary}: the unpacked binary, or why there is none. */
  binary: { path: string } | { reason: string };
  /** TETHER_ELECTRON_DIST: an unpacked Electron of that version for the host, when given. */
  electronDistOverride: string | undefined;
  /** ELECTRON_BUILDER_OFFLINE or the like: electron-builder may not download. */
  offline: boolean;
}

export type DistPlan = { ok: true; electronDist: string | null; note: string } | { ok: false; message: string };

/**
 * Whether `npm run dist` can package, and from which Electron. electron-builder copies an
 * unpacked Electron into the app; without one (the npm package installed with
 * ELECTRON_SKIP_BINARY_DOWNLOAD, as on CI and this build machine) it downloads one from GitHub,
 * which needs network. With neither, say exactly what is missing instead of a stack trace
 * from deep inside the download.
 */
export function planDist(env: DistEnvironment): DistPlan {
  if (env.electronVersion === null) {
    return { ok: false, message: 'Cannot package the desktop app: the `electron` npm package is not installed. Run `npm install` (electron is an optional dependency).' };
  }
  if (env.electronDistOverride !== undefined && env.electronDistOverride !== '') {
    return { ok: true, electronDist: env.electronDistOverride, note: `using the Electron in TETHER_ELECTRON_DIST=${env.electronDistOverride}` };
  }
  if ('path' in env.binary) {
    return { ok: true, electronDist: dirname(env.binary.path), note: `using the installed Electron ${env.electronVersion} at ${dirname(env.binary.path)}` };
  }
  if (env.offline) {
    return {
      ok: false,
      message: [
        `Cannot package the desktop app: no Electron ${env.electronVersion} binary is available (${env.binary.reason}) and downloads are off.`,
        'Either install it with network access (`npm rebuild electron` with ELECTRON_SKIP_BINARY_DOWNLOAD unset),',
        `or set TETHER_ELECTRON_DIST to an unpacked Electron ${env.electronVersion} for this platform.`,
      ].join('\n'),
    };
  }
  return { ok: true, electronDist: null, note: `no local Electron binary (${env.binary.reason}); electron-builder will download Electron ${env.electronVersion}` };
}

/** The steps of `npm run dist`, injected so the order and the early exit are testable without building. */
export interface DistSteps {
  environment(): DistEnvironment;
  buildRenderer(): Promise<void>;
  bundleMain(): Promise<void>;
  /** Runs electron-builder for the host; rejects when it fails (for instance a refused download). */
  packageApp(electronDist: string | null): Promise<string[]>;
  log(message: string): void;
  error(message: string): void;
}

/** Runs the steps and answers the process exit code: 0 packaged, 1 not (with the reason printed). */
export async function runDist(steps: DistSteps): Promise<number> {
  const plan = planDist(steps.environment());
  if (!plan.ok) {
    steps.error(plan.message);
    return 1;
  }
  steps.log(`[dist] ${plan.note}`);
  await steps.buildRenderer();
  await steps.bundleMain();
  try {
    const artifacts = await steps.packageApp(plan.electronDist);
    for (const artifact of artifacts) steps.log(`[dist] ${artifact}`);
    return 0;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    steps.error(
      plan.electronDist === null
        ? `Cannot package the desktop app: electron-builder could not get Electron (no local binary, and the download failed: ${detail}).\nSet TETHER_ELECTRON_DIST to an unpacked Electron, or run with network access.`
        : `Cannot package the desktop app: electron-builder failed: ${detail}`,
    );
    return 1;
  }
}
