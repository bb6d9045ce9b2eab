/**
 * Diagnostic, not a scenario: the console bench's first-render measure alone, repeated, each run in
 * a fresh browser against a backend holding 10,000 devices. On a shared machine one run says
 * little, so builds are compared in turns (A B A B …):
 *
 *   PROBE_DIRS=/tmp/dist-a,/tmp/dist-b PROBE_RUNS=8 npx tsx bench/first-render-probe.ts
 *
 * PROBE_PROFILE=1 writes a CPU profile of each load, navigation to first row, to
 * /tmp/console-load-<build>-<run>.cpuprofile (build with --sourcemap to read it); PROBE_TRACE=1 a
 * Chrome trace of the first run to /tmp/console-trace-<build>.json (PROBE_TRACE_CATEGORIES=a,b,…
 * replaces Playwright's default categories, e.g. with disabled-by-default-v8.compile to see lazy
 * compilation); PROBE_VERBOSE=1 prints every request's timing and phases.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { ADMIN_PASSWORD, cleanup, startBackend, tempDir } from '../test/harness.js';
import { CHROMIUM_ARGS, FIRST_ROW, seedDevices } from './console.js';

const PROBE = `
  window.__probe = { firstRowMs: null };
  if (${process.env.PROBE_PROFILE === '1'}) console.profile('load');
  new MutationObserver((_, o) => {
    if (window.__probe.firstRowMs === null && document.querySelector('[data-testid="device-row"]')) {
      window.__probe.firstRowMs = performance.now();
      // The frame after the one that rendered the rows: by then they are laid out and painted.
      requestAnimationFrame(() => requestAnimationFrame(() => { window.__probe.paintedMs = performance.now(); }));
      o.disconnect();
      console.debug('${FIRST_ROW}');
      if (${process.env.PROBE_PROFILE === '1'}) console.profileEnd('load');
    }
  }).observe(document, { childList: true, subtree: true });
`;

/** The fields of the page's PerformanceResourceTiming entries the probe prints (this file is typed for Node). */
interface ResourceTiming { name: string; startTime: number; responseEnd: number; connectStart: number; secureConnectionStart: number; requestStart: number; responseStart: number }

interface CpuProfile { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>; samples?: number[]; timeDeltas?: number[] }

function selfTimeByUrl(profile: CpuProfile): string {
  const counts = new Map<number, number>();
  const deltas = profile.timeDeltas ?? [];
  (profile.samples ?? []).forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (deltas[i] ?? 0) / 1000));
  const byKey = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url } = node.callFrame;
    const key = url === '' ? functionName : (url.split('/').pop() ?? '');
    byKey.set(key, (byKey.get(key) ?? 0) + (counts.get(node.id) ?? 0));
  }
  return [...byKey].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([k, ms]) => `${k} ${ms.toFixed(0)}`).join(', ');
}

/** `PROBE_DIRS=a,b`: built consoles to compare, one backend each, measured in turns (A B A B …). */
const dirs = (process.env.PROBE_DIRS ?? join(import.meta.dirname, '..', 'renderer', 'dist')).split(',');
const backends = [];
for (const dir of dirs) {
  const home = tempDir('probe-console');
  seedDevices(home);
  backends.push({ dir, home, backend: await startBackend({ home, env: { TETHER_CONSOLE_DIR: dir } }), results: [] as number[], painted: [] as number[], listed: [] as number[] });
}
const runs = Number(process.env.PROBE_RUNS ?? 3);
try {
  for (let run = 0; run < runs; run++) {
    for (const b of backends) {
      const backend = b.backend;
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
      try {
        const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
        const res = await context.request.post(`${backend.url}/api/v1/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } });
        if (!res.ok()) throw new Error(`login ${res.status()}`);
        await context.addInitScript(PROBE);
        const page = await context.newPage();
        const cdp = process.env.PROBE_PROFILE === '1' ? await context.newCDPSession(page) : null;
        let profiled: Promise<CpuProfile> | null = null;
        if (cdp) {
          await cdp.send('Profiler.enable');
          await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
          profiled = new Promise((resolve) => cdp.on('Profiler.consoleProfileFinished', (event) => resolve(event.profile as CpuProfile)));
        }
        const tracing = process.env.PROBE_TRACE === '1' && run === 0;
        if (tracing) await browser.startTracing(page, { path: `/tmp/console-trace-${backends.indexOf(b)}.json`, screenshots: false, ...(process.env.PROBE_TRACE_CATEGORIES ? { categories: process.env.PROBE_TRACE_CATEGORIES.split(',') } : {}) });
        const firstRow = page.waitForEvent('console', { predicate: (message) => message.text() === FIRST_ROW, timeout: 60_000 });
        await page.goto(backend.url);
        await firstRow;
        if (tracing) await browser.stopTracing();
        const firstRowMs = await page.evaluate(() => (globalThis as unknown as { __probe: { firstRowMs: number } }).__probe.firstRowMs);
        const paintedMs = await (await page.waitForFunction(() => (globalThis as unknown as { __probe: { paintedMs?: number } }).__probe.paintedMs)).jsonValue();
        b.painted.push(paintedMs ?? 0);
        // Each entry's phases: start, TCP connect (c), TLS (s), request sent (q), first byte (r), end.
        const timings = await page.evaluate(() =>
          performance
            .getEntries()
            .filter((e) => ['navigation', 'resource'].includes(e.entryType))
            .map((e) => {
              const t = e as unknown as ResourceTiming;
              return {
                name: (new URL(t.name).pathname.split('/').pop() || 'index.html') + new URL(t.name).search,
                start: Math.round(t.startTime),
                end: Math.round(t.responseEnd),
                phases: [t.connectStart, t.secureConnectionStart, t.requestStart, t.responseStart].map((ms, i) => 'csqr'.charAt(i) + (ms > 0 ? String(Math.round(ms)) : '-')).join(' '),
              };
            }),
        );
        const list = timings.find((t) => t.name.startsWith('devices'));
        b.results.push(firstRowMs);
        b.listed.push(list?.end ?? 0);
        process.stderr.write(`run ${run} ${b.dir}: firstRow ${firstRowMs.toFixed(0)} ms, first page ${list?.start}-${list?.end} (load ${loadavg()[0]?.toFixed(2)})\n`);
        if (process.env.PROBE_VERBOSE === '1') for (const t of timings) process.stderr.write(`   ${t.name.slice(0, 40)} ${t.start}-${t.end} (${t.phases})\n`);
        if (profiled) {
          const profile = await profiled;
          writeFileSync(`/tmp/console-load-${backends.indexOf(b)}-${run}.cpuprofile`, JSON.stringify(profile));
          process.stderr.write(`   self ms: ${selfTimeByUrl(profile)}\n`);
        }
      } finally {
        await browser.close();
      }
    }
  }
  // Each turn loads every build within a few seconds, so the ratio to the first build in the same turn cancels much of the machine's swing between turns.
  const first = backends[0];
  for (const b of backends.slice(1)) {
    const ratios = b.results.map((ms, i) => ms / (first?.results[i] ?? ms)).sort((x, y) => x - y);
    process.stderr.write(`${b.dir} / ${first?.dir}: firstRow ratio per turn ${ratios.map((r) => r.toFixed(2)).join(' ')}; median ${ratios[Math.floor(ratios.length / 2)]?.toFixed(2)}\n`);
  }
  for (const b of backends) {
    const sorted = [...b.results].sort((x, y) => x - y);
    const painted = [...b.painted].sort((x, y) => x - y);
    process.stderr.write(`${b.dir}: firstRow ms ${b.results.map((r) => r.toFixed(0)).join(' ')}; median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)}; painted (a frame later) median ${painted[Math.floor(painted.length / 2)]?.toFixed(0)}; first page received ${b.listed.join(' ')}\n`);
  }
} finally {
  for (const b of backends) {
    await b.backend.stop();
    cleanup(b.home);
  }
}
