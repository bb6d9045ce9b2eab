// @ts-check
/**
 * Preloaded into a backend under benchmark (`NODE_OPTIONS=--import …/loop-probe.mjs`): watches
 * its event loop at 1 ms resolution. On SIGUSR2 it writes the delay seen since the previous
 * signal as one JSON line on stdout (beside pino's) and starts a new window, so a benchmark can
 * bracket exactly the operation it measures. Plain JavaScript: it loads before tsx is registered.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let window = 0;
/** @param {number} ns */
const ms = (ns) => Math.round(ns / 1e4) / 100;
process.on('SIGUSR2', () => {
  const line = { msg: 'event loop delay', window: window++, maxMs: ms(delay.max), p99Ms: ms(delay.percentile(99)), samples: delay.count };
  delay.reset();
  // Not writeSync: the backend's log can fill the pipe, and a non-blocking fd then answers EAGAIN.
  process.stdout.write(`${JSON.stringify(line)}\n`);
});
