import { z } from 'zod';
import { Device, DEVICE_PAGE_MAX, missingCase, DeviceList, type DeviceList as DeviceListValue, FINAL_RUN_STATES, JobDetail, JobList, LoginResponse, Run, type CommandSpec, type DeviceSelection, type Job } from '../protocol/index.js';
import { ApiClient } from './api-client.js';
import { CliError } from './cli-error.js';
import { loadCredentials, removeCredentials, saveCredentials, type Credentials } from './credentials.js';
import { looksLikeDeviceId, matchesQuery, pickDevice } from './device-ref.js';
import { progressLine, StatusLine } from './job-progress.js';
import { backendOrigin, fetchPinnedCa } from './pinned-ca.js';
import type { Prompter } from './prompt.js';
import { exitStatusOf, OutputFollower } from './run-output.js';
import { downloadFile, parseRemote, uploadFile, type CopyOptions } from './file-copy.js';
import { runShell } from './shell/shell-session.js';
import { parseForwardSpec } from './forward/forward-spec.js';
import { startPortForward, type ForwardEvent } from './forward/port-forward.js';
import { ago, formatTable, jsonLine, terminalSafe } from './terminal-text.js';

/** What the commands read and write: the process's streams in production, injectable for tests. */
export interface CliIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  credentialsPath: string;
  prompter: Prompter;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Called once on the first Ctrl-C (SIGINT) while `during` runs; a second one exits at once. */
  onInterrupt<T>(handler: () => void, during: () => Promise<T>): Promise<T>;
}

/** The console polls a run every 300 ms (renderer/shell/command-panel.tsx); so does `exec`. */
const RUN_POLL_MS = 300;
const JOB_POLL_MS = 500;

function client(credentials: Credentials): ApiClient {
  return new ApiClient({ url: credentials.url, caCertPem: credentials.caCertPem, token: credentials.token });
}

function print(out: NodeJS.WriteStream, text: string): void {
  out.write(terminalSafe(text));
}

// ── login / logout ──

export interface LoginOptions {
  caPin: string;
  username: string;
  json?: boolean;
}

/**
 * Checks the backend's CA against the pin before anything is sent (a wrong pin stops here,
 * before the password is asked), then logs in, asking for a TOTP or recovery code when the
 * backend answers TOTP_REQUIRED, and stores the session.
 */
export async function login(io: CliIo, url: string, opts: LoginOptions): Promise<void> {
  const origin = backendOrigin(url);
  const caCertPem = await fetchPinnedCa(origin, opts.caPin);
  const api = new ApiClient({ url: origin.href, caCertPem });
  const password = await io.prompter.secret(`Password for ${opts.username}@${origin.host}: `);
  const attempt = (extra: Record<string, string>) => api.call(LoginResponse, 'POST', '/api/v1/auth/login', { username: opts.username, password, ...extra });
  let answer;
  try {
    answer = await attempt({});
  } catch (err) {
    if (!(err instanceof CliError && err.code === 'TOTP_REQUIRED')) throw err;
    const code = (await io.prompter.secret('TOTP code (or a recovery code): ')).trim();
    answer = await attempt(/^\d{6}$/.test(code) ? { totp: code } : { recoveryCode: code });
  }
  const session = answer.value;
  const previous = storedOrNull(io.credentialsPath);
  saveCredentials(io.credentialsPath, { url: origin.origin, caPin: opts.caPin, caCertPem, username: session.user.username, token: session.token, expiresAt: session.expiresAt });
  // The session this login replaces would otherwise stay valid, unseen, until it expires.
  if (previous) await client(previous).send('POST', '/api/v1/auth/logout', undefined, 5_000).catch(() => undefined);
  if (opts.json) io.stdout.write(jsonLine({ url: origin.origin, user: session.user, expiresAt: session.expiresAt }));
  else print(io.stderr, `Logged in to ${origin.origin} as ${session.user.username} (${session.user.role}); session kept in ${io.credentialsPath}\n`);
}

function storedOrNull(path: string): Credentials | null {
  try {
    return loadCredentials(path);
  } catch {
    return null;
  }
}

/** Ends the session on the backend and deletes the file; the file goes even when the backend cannot be told. */
export async function logout(io: CliIo): Promise<void> {
  const credentials = loadCredentials(io.credentialsPath);
  let failure: CliError | null = null;
  try {
    await client(credentials).send('POST', '/api/v1/auth/logout');
  } catch (err) {
    const error = CliError.from(err);
    // An expired or already ended session is logged out already.
    if (error.code !== 'SESSION_INVALID' && error.code !== 'UNAUTHORIZED') failure = error;
  }
  removeCredentials(io.credentialsPath);
  if (failure) throw new CliError(failure.code, `${failure.message} (the local credentials were deleted; the session ends by itself when it expires)`);
  print(io.stderr, `Logged out of ${credentials.url}\n`);
}

// ── devices ──

/** Every device the user may see, page by page. */
async function allDevices(api: ApiClient): Promise<Array<{ device: Device; json: unknown }>> {
  const out: Array<{ device: Device; json: unknown }> = [];
  let after: string | null = null;
  do {
    const query: URLSearchParams = new URLSearchParams({ limit: String(DEVICE_PAGE_MAX), ...(after ? { after } : {}) });
    const { value, json }: { value: DeviceListValue; json: unknown } = await api.call(DeviceList, 'GET', `/api/v1/devices?${query.toString()}`);
    const raw = (json as { devices: unknown[] }).devices;
    value.devices.forEach((device, i) => out.push({ device, json: raw[i] }));
    after = value.nextAfter;
  } while (after !== null);
  return out;
}

async function resolveDevice(api: ApiClient, ref: string): Promise<Device> {
  if (looksLikeDeviceId(ref)) {
    try {
      return (await api.call(Device, 'GET', `/api/v1/devices/${encodeURIComponent(ref)}`)).value;
    } catch (err) {
      // A name can look like an id; only an unknown id falls through to the names.
      if (!(err instanceof CliError && (err.code === 'DEVICE_UNKNOWN' || err.code === 'NOT_FOUND'))) throw err;
    }
  }
  return pickDevice((await allDevices(api)).map((d) => d.device), ref);
}

export async function devices(io: CliIo, opts: { query?: string; json?: boolean }): Promise<void> {
  const api = client(loadCredentials(io.credentialsPath));
  const query = opts.query;
  const listed = (await allDevices(api)).filter(({ device }) => query === undefined || matchesQuery(device, query));
  if (opts.json) {
    io.stdout.write(jsonLine({ devices: listed.map((d) => d.json), nextAfter: null }));
    return;
  }
  const now = io.now();
  const rows = listed.map(({ device: d }) => [
    d.name,
    d.id,
    d.status === 'active' ? (d.online ? 'online' : 'offline') : d.status,
    d.online ? 'now' : ago(d.lastSeen, now),
    Object.entries(d.tags).map(([k, v]) => `${k}=${v}`).join(','),
  ]);
  io.stdout.write(formatTable(['NAME', 'ID', 'STATUS', 'LAST SEEN', 'TAGS'], rows));
}

// ── exec ──

export interface CommandOptions {
  shell?: boolean;
  timeout: number;
  cwd?: string;
  json?: boolean;
  raw?: boolean;
}

/** argv as given (no shell), or, with --shell, the words joined and run by /bin/sh -c as ssh does. */
export function commandSpec(words: readonly string[], viaShell: boolean | undefined): CommandSpec {
  if (words.length === 0) throw CliError.of('BAD_REQUEST', 'No command given: put it after `--`');
  return viaShell ? { shell: words.join(' ') } : { argv: [...words] };
}

/**
 * Runs a command on one device. The API keeps a live run's output and hands it out so far on
 * each `GET /api/v1/runs/:id` (there is no output stream for commands), so output appears as
 * the console shows it, every 300 ms. Ctrl-C cancels the run on the device. Resolves with the
 * exit status to leave with.
 */
export async function exec(io: CliIo, deviceRef: string, words: string[], opts: CommandOptions): Promise<number> {
  const spec = commandSpec(words, opts.shell);
  const api = client(loadCredentials(io.credentialsPath));
  const device = await resolveDevice(api, deviceRef);
  const started = await api.call(Run, 'POST', `/api/v1/devices/${device.id}/commands`, { command: spec, timeoutMs: opts.timeout * 1000, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  const runId = started.value.id;
  const out = new OutputFollower();
  const err = new OutputFollower();
  // Output is the device's: escaped on a terminal (it is data, not the operator's own escape codes) unless --raw.
  const emit = (stream: NodeJS.WriteStream, text: string): void => {
    if (text !== '') stream.write(stream.isTTY && !opts.raw ? terminalSafe(text) : text);
  };
  const final = await io.onInterrupt(
    () => {
      void api.call(Run, 'POST', `/api/v1/runs/${runId}/cancel`).catch(() => undefined);
    },
    async () => {
      let run = started.value;
      let json: unknown = started.json;
      for (;;) {
        const done = FINAL_RUN_STATES.has(run.state);
        if (!opts.json) {
          emit(io.stdout, out.next(run.stdout, done));
          emit(io.stderr, err.next(run.stderr, done));
        }
        if (done) return { run, json };
        await io.sleep(RUN_POLL_MS);
        ({ value: run, json } = await api.call(Run, 'GET', `/api/v1/runs/${runId}`));
      }
    },
  );
  if (opts.json) {
    io.stdout.write(jsonLine(final.json));
    return exitStatusOf(final.run);
  }
  const { run } = final;
  if (run.truncated) print(io.stderr, 'tether: the output was truncated (the backend keeps at most 1 MB per stream)\n');
  if (run.state !== 'succeeded' && run.error) print(io.stderr, `tether: ${run.state}: ${run.error}\n`);
  else if (run.state === 'timed_out') print(io.stderr, `tether: timed out after ${opts.timeout} s\n`);
  return exitStatusOf(run);
}

// ── shell ──

export async function shell(io: CliIo, deviceRef: string): Promise<number> {
  const credentials = loadCredentials(io.credentialsPath);
  const device = await resolveDevice(client(credentials), deviceRef);
  const end = await runShell(credentials, device.id, { input: io.stdin, output: io.stdout, errors: io.stderr });
  switch (end.type) {
    case 'exited':
      return end.exitCode ?? 0;
    case 'left':
      // As ssh does after `~.`.
      print(io.stderr, `\r\nConnection to ${device.name} closed.\r\n`);
      return 255;
    case 'error':
      throw new CliError(end.error.code, end.error.message, 255);
    default:
      return missingCase(end);
  }
}

// ── jobs run ──

export interface JobRunOptions extends CommandOptions {
  query?: string;
  tag?: Record<string, string>;
  device?: string[];
  concurrency?: number;
  batchSize?: number;
}

const JobSummary = z.object({ jobs: JobList.shape.jobs });

/**
 * Starts a job over a selection and shows a live count of its runs per state until it ends.
 * Ctrl-C cancels the job. Exit status 0 when every run succeeded, else 1.
 */
export async function jobsRun(io: CliIo, words: string[], opts: JobRunOptions): Promise<number> {
  const spec = commandSpec(words, opts.shell);
  const selection: DeviceSelection = {
    ...(opts.query !== undefined ? { query: opts.query } : {}),
    ...(opts.tag !== undefined ? { tags: opts.tag } : {}),
    ...(opts.device !== undefined ? { deviceIds: opts.device } : {}),
  };
  if (Object.keys(selection).length === 0) throw CliError.of('BAD_REQUEST', 'A job needs --query, --tag or --device');
  const api = client(loadCredentials(io.credentialsPath));
  const created = await api.call(JobDetail, 'POST', '/api/v1/jobs', {
    command: spec,
    timeoutMs: opts.timeout * 1000,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    selection,
  });
  const jobId = created.value.id;
  const status = new StatusLine(io.stderr);
  await io.onInterrupt(
    () => {
      void api.call(JobDetail, 'POST', `/api/v1/jobs/${jobId}/cancel`).catch(() => undefined);
    },
    async () => {
      let job: Job = created.value;
      for (;;) {
        status.update(terminalSafe(progressLine(job)));
        if (job.state !== 'running') return;
        await io.sleep(JOB_POLL_MS);
        // The list carries the counts without every run's output; a job pushed off it is read in full.
        const recent = (await api.call(JobSummary, 'GET', '/api/v1/jobs?limit=50')).value.jobs.find((j) => j.id === jobId);
        job = recent ?? (await api.call(JobDetail, 'GET', `/api/v1/jobs/${jobId}`)).value;
      }
    },
  );
  status.done();
  const { value: detail, json } = await api.call(JobDetail, 'GET', `/api/v1/jobs/${jobId}`);
  const ok = detail.state === 'completed' && detail.runs.every((r) => r.state === 'succeeded');
  if (opts.json) {
    io.stdout.write(jsonLine(json));
    return ok ? 0 : 1;
  }
  const rows = detail.runs.map((r) => [r.deviceId, r.state, r.exitCode === null ? '-' : String(r.exitCode), firstLine(r.error ?? r.stderr)]);
  io.stdout.write(formatTable(['DEVICE', 'STATE', 'EXIT', 'NOTE'], rows));
  print(io.stdout, `job ${detail.id} ${detail.state}${detail.reason ? ` (${detail.reason})` : ''}\n`);
  return ok ? 0 : 1;
}

function firstLine(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

// ── cp ──

/**
 * `tether cp LOCAL DEVICE:PATH` or `tether cp DEVICE:PATH LOCAL`: one file, SHA-256 checked on both
 * ends, resumed after an interruption (within the run, and by running the same copy again).
 */
export async function cp(io: CliIo, source: string, destination: string, opts: CopyOptions): Promise<void> {
  const from = parseRemote(source);
  const to = parseRemote(destination);
  if ((from === null) === (to === null)) throw CliError.of('BAD_REQUEST', 'Copy between a local path and DEVICE:/path (exactly one of them on a device)');
  const credentials = loadCredentials(io.credentialsPath);
  const target = { url: credentials.url, caCertPem: credentials.caCertPem, token: credentials.token };
  const remote = (from ?? to) as NonNullable<typeof from>;
  const device = await resolveDevice(client(credentials), remote.device);
  const report = from
    ? await downloadFile(io, target, device.id, from.path, destination, opts)
    : await uploadFile(io, target, device.id, source, remote.path, opts);
  if (opts.json) io.stdout.write(jsonLine(report));
  else print(io.stderr, `${report.direction === 'upload' ? 'Uploaded' : 'Downloaded'} ${report.size} bytes ${report.direction === 'upload' ? `to ${device.name}:${report.path}` : `to ${report.local}`} (sha256 ${report.sha256}${report.resumedFrom > 0 ? `, resumed from ${report.resumedFrom}` : ''})\n`);
}

// ── forward ──

export interface ForwardOptions {
  json?: boolean;
}

function describeEvent(event: ForwardEvent, deviceName: string): string {
  switch (event.event) {
    case 'listening': {
      const host = event.address.includes(':') ? `[${event.address}]` : event.address;
      return `Forwarding ${host}:${event.port} -> ${event.host}:${event.remotePort} on ${deviceName} (Ctrl-C to stop)\n`;
    }
    case 'open':
      return `#${event.connection} from ${event.from}\n`;
    case 'close':
      return `#${event.connection} closed${event.code ? ` with ${event.code}${event.message ? `: ${event.message}` : ''}` : ''} (${event.bytesOut} bytes sent, ${event.bytesIn} received)\n`;
    default:
      return missingCase(event);
  }
}

/**
 * `tether forward DEVICE [BIND:]LPORT:HOST:RPORT`: listens on BIND (127.0.0.1 by default) and
 * forwards each connection to HOST:RPORT as the device reaches it, until Ctrl-C. The listening
 * address goes to stdout; connections are reported on stderr, or with --json as one JSON line
 * per event on stdout.
 */
export async function forward(io: CliIo, deviceRef: string, specText: string, opts: ForwardOptions): Promise<number> {
  const spec = parseForwardSpec(specText);
  const credentials = loadCredentials(io.credentialsPath);
  const device = await resolveDevice(client(credentials), deviceRef);
  const onEvent = (event: ForwardEvent): void => {
    if (opts.json) io.stdout.write(jsonLine(event));
    else print(event.event === 'listening' ? io.stdout : io.stderr, describeEvent(event, device.name));
  };
  const running = await startPortForward(credentials, device.id, spec, onEvent);
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  await io.onInterrupt(() => stop(), () => stopped);
  await running.close();
  if (opts.json) io.stdout.write(jsonLine({ event: 'stopped' }));
  return 0;
}
