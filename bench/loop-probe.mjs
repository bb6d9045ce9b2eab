// @ts-check
/**
 * Preloaded into a backend under benchmark (`NODE_OPTIONS=--import …/loop-probe.mjs`): watches
 * its event loop at 1 ms resolution. On SIGUSR2 it writes the delay seen since the previous
 * signal as one JSON line on stdout (beside pino's) and starts a new window, so a benchmark can
 * bracket exactly the operation it measures. Plain JavaScript: it loads before tsx is registered.
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let window = 0;
/** The window's longest garbage-collection pause and its kind: a stall the program's own code did not cause. */
let gc = { ms: 0, kind: '' };
const GC_KINDS = { [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks' };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    // @ts-expect-error: a gc entry's detail holds its kind
    if (entry.duration > gc.ms) gc = { ms: entry.duration, kind: GC_KINDS[entry.detail?.kind] ?? 'other' };
  }
}).observe({ entryTypes: ['gc'] });
/** @param {number} ns */
const ms = (ns) => Math.round(ns / 1e4) / 100;
process.on('SIGUSR2', () => {
  const line = { msg: 'event loop delay', window: window++, maxMs: ms(delay.max), p99Ms: ms(delay.percentile(99)), samples: delay.count, gcMaxMs: Math.round(gc.ms * 100) / 100, gcMaxKind: gc.kind };
  delay.reset();
  gc = { ms: 0, kind: '' };
  // Not writeSync: the backend's log can fill the pipe, and a non-blocking fd then answers EAGAIN.
  process.stdout.write(`${JSON.stringify(line)}\n`);
});
