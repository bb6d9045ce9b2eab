import { pino } from 'pino';
import { expect, it } from 'vitest';
import { type CommandRequest, type Device, type JobCreateRequest } from '../../protocol/index.js';
import { AuditLog } from '../../backend/audit/audit-log.js';
import { FleetEvents } from '../../backend/devices/fleet-events.js';
import { JobScheduler } from '../../backend/jobs/job-scheduler.js';
import type { NewJob, NewRun, RunEnd } from '../../backend/jobs/run-store.js';
import { RunService } from '../../backend/jobs/run-service.js';
import type { Stores } from '../../backend/store/stores.js';
import { codeOf, describeEachEngine } from './engines.js';
import { FakeDeviceRouter } from './fake-device-router.js';

const log = pino({ level: 'silent' });
const COMMAND: CommandRequest = { command: { shell: 'echo hi' }, timeoutMs: 60_000 };

function newJob(id: string, createdAt = 1_000): NewJob {
  return { id, command: COMMAND, concurrency: 10, batchSize: 100, maxFailureRatio: null, queueOffline: false, offlineExpiryMs: 60_000, createdBy: 'user:alice', createdAt };
}

function newRuns(jobId: string, deviceIds: readonly string[], batchSize = 100, createdAt = 1_000): NewRun[] {
  return deviceIds.map((deviceId, i) => ({ id: `${jobId}-r${i}`, jobId, deviceId, command: COMMAND, batch: Math.floor(i / batchSize), createdBy: 'user:alice', createdAt }));
}

function end(state: RunEnd['state'], stdout = '', endedAt = 5_000): RunEnd {
  return { state, exitCode: state === 'succeeded' ? 0 : null, signal: null, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), truncated: false, error: null, endedAt };
}


async function auditOf(stores: Stores, action: string): Promise<Array<{ actor: string; target: string | null; details: Record<string, unknown> }>> {
  return stores.audit.query({ action }, 10_000);
}

describeEachEngine('runs and jobs store', (store) => {
  it('inserts a 1,234-device job in multi-row slices and lists its runs by batch in creation order', async () => {
    const { stores } = store();
    // Device ids in descending order: the stored order must be the job's, not the ids'.
    const devices = Array.from({ length: 1234 }, (_, i) => `dev_${String(5000 - i).padStart(5, '0')}`);
    const runs = newRuns('job-a', devices);
    await stores.runs.insertJob(newJob('job-a'), runs);
    const listed = await stores.runs.runsOfJob('job-a');
    expect(listed.map((r) => r.id)).toEqual(runs.map((r) => r.id));
    expect(listed.map((r) => r.batch)).toEqual(runs.map((r) => r.batch));
    expect(listed[0]).toMatchObject({ jobId: 'job-a', deviceId: 'dev_05000', state: 'queued', stdout: '', stderr: '', truncated: false, startedAt: null, endedAt: null });
    const job = await stores.runs.findJob('job-a');
    expect(job).toMatchObject({ id: 'job-a', state: 'running', command: COMMAND, total: 1234, counts: { queued: 1234, running: 0, succeeded: 0 }, queueOffline: false, endedAt: null, reason: null });
  });

  it('writes a job and its runs all or nothing', async () => {
    const { stores } = store();
    // The same device twice in one job breaks UNIQUE (job_id, device_id) in the second slice.
    const runs = newRuns('job-b', [...Array.from({ length: 700 }, (_, i) => `dev_${i}`), 'dev_3']);
    await expect(stores.runs.insertJob(newJob('job-b'), runs)).rejects.toThrow();
    expect(await stores.runs.findJob('job-b')).toBeUndefined();
    expect(await stores.runs.runsOfJob('job-b')).toEqual([]);
    // Inside a caller's transaction it joins it: a later failure there rolls the job back too.
    await expect(stores.transaction(async (tx) => {
      await tx.runs.insertJob(newJob('job-c'), newRuns('job-c', ['dev_1', 'dev_2']));
      throw new Error('after');
    })).rejects.toThrow('after');
    expect(await stores.runs.findJob('job-c')).toBeUndefined();
  });

  it('moves a run queued → running → final once, and refuses the moves its state forbids', async () => {
    const { stores } = store();
    await stores.runs.insertJob(newJob('j'), newRuns('j', ['d1', 'd2', 'd3', 'd4']));
    // Succeeded and timed out need a running run; expired needs a queued one.
    expect(await stores.runs.endRun('j-r0', end('succeeded'))).toBeUndefined();
    expect(await stores.runs.endRun('j-r0', end('timed_out'))).toBeUndefined();
    expect(await stores.runs.markRunning('j-r0', 2_000)).toBe(true);
    expect(await stores.runs.markRunning('j-r0', 2_500)).toBe(false);
    expect(await stores.runs.endRun('j-r0', end('expired'))).toBeUndefined();
    const ended = await stores.runs.endRun('j-r0', { ...end('succeeded', 'out\n'), stderr: Buffer.from('err\n'), truncated: true });
    expect(ended).toMatchObject({ id: 'j-r0', state: 'succeeded', exitCode: 0, stdout: 'out\n', stderr: 'err\n', truncated: true, startedAt: 2_000, endedAt: 5_000 });
    // Final is final: no second end, no output written over it, no restart.
    expect(await stores.runs.endRun('j-r0', end('cancelled', 'late'))).toBeUndefined();
    expect(await stores.runs.endRun('j-r0', end('failed', 'late'))).toBeUndefined();
    expect(await stores.runs.markRunning('j-r0', 9_000)).toBe(false);
    expect(await stores.runs.findRun('j-r0')).toEqual(ended);
    // A queued run may fail (offline device), expire, or be cancelled without ever running.
    expect(await stores.runs.endRun('j-r1', { ...end('failed'), error: 'DEVICE_OFFLINE' })).toMatchObject({ state: 'failed', error: 'DEVICE_OFFLINE', startedAt: null });
    expect(await stores.runs.endRun('j-r2', end('expired'))).toMatchObject({ state: 'expired', startedAt: null });
    expect(await stores.runs.endRun('j-r3', end('cancelled'))).toMatchObject({ state: 'cancelled' });
    expect(await stores.runs.markRunning('j-r3', 9_000)).toBe(false);
    expect(await stores.runs.endRun('nope', end('cancelled'))).toBeUndefined();
    expect(await stores.runs.findRun('nope')).toBeUndefined();
    expect((await stores.runs.findJob('j'))?.counts).toEqual({ queued: 0, running: 0, succeeded: 1, failed: 1, timed_out: 0, cancelled: 1, expired: 1 });
  });

  it('a burst of starts and ends asked at once (one statement each on PostgreSQL): every run moves once, forbidden moves refused, output kept byte for byte', async () => {
    const { stores } = store();
    const devices = Array.from({ length: 1_200 }, (_, i) => `d${i}`);
    await stores.runs.insertJob(newJob('burst'), newRuns('burst', devices, 1_200));
    const ids = devices.map((_, i) => `burst-r${i}`);
    // Every run started at once, ten of them twice, and 'nope' which does not exist: one start of each run wins.
    const asked = [...ids, ...ids.slice(0, 10), 'nope'];
    const starts = await Promise.all(asked.map((id, i) => stores.runs.markRunning(id, 2_000 + i)));
    const wins = new Map<string, number>();
    asked.forEach((id, j) => starts[j] && wins.set(id, (wins.get(id) ?? 0) + 1));
    expect(wins.size).toBe(ids.length);
    expect([...wins].filter(([, n]) => n !== 1)).toEqual([]);
    expect(wins.has('nope')).toBe(false);
    const r7 = await stores.runs.findRun('burst-r7');
    expect(r7?.state).toBe('running');
    expect([2_007, 2_000 + ids.length + 7]).toContain(r7?.startedAt);

    // Output that a text path would mangle: NUL, backslashes, quotes, braces, commas, non-UTF-8 bytes.
    const awkward = Buffer.from([0x00, 0x5c, 0x22, 0x7b, 0x7d, 0x2c, 0x27, 0xff, 0xfe, 0x0a]);
    const error = 'DEVICE_OFFLINE: "quoted", {braced}, back\\slash, \u00e9';
    const endings = ids.map((id, i) => {
      // One output too large to go with the others: written alone, beside the burst.
      if (i === 8) return stores.runs.endRun(id, { ...end('succeeded'), stdout: Buffer.alloc(100_000, 'y') });
      if (i % 4 === 0) return stores.runs.endRun(id, { ...end('succeeded'), stdout: awkward, stderr: Buffer.from(`run ${i}`), truncated: true });
      if (i % 4 === 1) return stores.runs.endRun(id, { ...end('failed'), exitCode: 3, signal: 'SIGTERM', error });
      if (i % 4 === 2) return stores.runs.endRun(id, end('expired')); // refused: the run is running
      return stores.runs.endRun(id, end('timed_out'));
    });
    // Ends asked of the same runs in the same burst: of two allowed ends one wins, the other learns it lost.
    const racing = [stores.runs.endRun('burst-r3', end('cancelled')), stores.runs.endRun('burst-r2', end('cancelled', 'second'))];
    const ended = await Promise.all([...endings, ...racing]);
    expect(ended[0]).toMatchObject({ state: 'succeeded', exitCode: 0, stderr: 'run 0', truncated: true, endedAt: 5_000 });
    expect(Buffer.from((await stores.runs.findRun('burst-r0'))?.stdout ?? '')).toEqual(Buffer.from(awkward.toString('utf8')));
    expect(ended[1]).toMatchObject({ state: 'failed', exitCode: 3, signal: 'SIGTERM', error });
    expect(ended[2]).toBeUndefined();
    expect((await stores.runs.findRun('burst-r8'))?.stdout).toBe('y'.repeat(100_000));
    const r3 = [ended[3], ended[ids.length]].filter((r) => r !== undefined);
    expect(r3).toHaveLength(1);
    expect(await stores.runs.findRun('burst-r3')).toEqual(r3[0]);
    // A running run cannot expire, but it can be cancelled.
    expect(ended[ids.length + 1]).toMatchObject({ state: 'cancelled', stdout: 'second' });
    const cancelledR3 = r3[0]?.state === 'cancelled' ? 1 : 0;
    expect((await stores.runs.findJob('burst'))?.counts).toEqual({ queued: 0, running: 299, succeeded: 300, failed: 300, timed_out: 300 - cancelledR3, cancelled: 1 + cancelledR3, expired: 0 });
    expect(await stores.runs.findRun('burst-r6')).toMatchObject({ state: 'running', endedAt: null });
  });

  it('counts a job\'s progress as its runs move, and ends the job and its queued runs once', async () => {
    const { stores } = store();
    await stores.runs.insertJob(newJob('j'), newRuns('j', ['a', 'b', 'c', 'd', 'e'], 2));
    await stores.runs.markRunning('j-r0', 2_000);
    await stores.runs.markRunning('j-r1', 2_000);
    await stores.runs.endRun('j-r0', end('succeeded'));
    expect(await stores.runs.findJob('j')).toMatchObject({ total: 5, counts: { queued: 3, running: 1, succeeded: 1, failed: 0 } });
    expect(await stores.runs.endQueued('j', 'cancelled', 'aborted: too many failures', 6_000)).toBe(3);
    expect(await stores.runs.endQueued('j', 'cancelled', 'again', 7_000)).toBe(0);
    expect((await stores.runs.findRun('j-r4'))).toMatchObject({ state: 'cancelled', error: 'aborted: too many failures', endedAt: 6_000, startedAt: null });
    // The running run is not touched by endQueued.
    expect((await stores.runs.findRun('j-r1'))?.state).toBe('running');
    const aborted = await stores.runs.endJob('j', 'aborted', 'failure ratio 1/1', 6_000);
    expect(aborted).toMatchObject({ state: 'aborted', reason: 'failure ratio 1/1', endedAt: 6_000, total: 5, counts: { cancelled: 3, running: 1, succeeded: 1 } });
    expect(await stores.runs.endJob('j', 'completed', null, 7_000)).toBeUndefined();
    expect(await stores.runs.endJob('j', 'cancelled', null, 7_000)).toBeUndefined();
    expect(await stores.runs.findJob('j')).toMatchObject({ state: 'aborted', reason: 'failure ratio 1/1', endedAt: 6_000 });
    expect(await stores.runs.endJob('nope', 'cancelled', null, 7_000)).toBeUndefined();
  });

  it('lists jobs newest first with their progress, and a device\'s runs newest first, within the limit', async () => {
    const { stores } = store();
    for (let i = 0; i < 4; i++) await stores.runs.insertJob(newJob(`job-${i}`, 1_000 + i), newRuns(`job-${i}`, ['d1', 'd2'].slice(0, 1 + (i % 2)), 100, 1_000 + i));
    for (let i = 0; i < 3; i++) await stores.runs.insertRun({ id: `single-${i}`, jobId: null, deviceId: 'd1', command: COMMAND, batch: null, createdBy: 'user:bob', createdAt: 2_000 + i });
    await stores.runs.endRun('job-3-r1', end('cancelled'));
    const jobs = await stores.runs.listJobs(3);
    expect(jobs.map((j) => j.id)).toEqual(['job-3', 'job-2', 'job-1']);
    expect(jobs.map((j) => j.total)).toEqual([2, 1, 2]);
    expect(jobs[0]?.counts).toMatchObject({ queued: 1, cancelled: 1 });
    expect((await stores.runs.listJobs(50)).length).toBe(4);
    const ofD1 = await stores.runs.runsOfDevice('d1', 5);
    expect(ofD1.map((r) => r.id)).toEqual(['single-2', 'single-1', 'single-0', 'job-3-r0', 'job-2-r0']);
    expect(ofD1[0]).toMatchObject({ jobId: null, batch: null, state: 'queued' });
    expect((await stores.runs.runsOfDevice('d2', 50)).map((r) => r.id)).toEqual(['job-3-r1', 'job-1-r1']);
    expect(await stores.runs.runsOfDevice('none', 50)).toEqual([]);
  });

  it('after a restart, ends every unfinished run and job as cancelled and leaves final ones alone', async () => {
    const { stores } = store();
    await stores.runs.insertJob(newJob('j'), newRuns('j', ['a', 'b', 'c']));
    await stores.runs.markRunning('j-r0', 2_000);
    await stores.runs.markRunning('j-r2', 2_000);
    await stores.runs.endRun('j-r2', end('succeeded', 'kept'));
    await stores.runs.insertJob(newJob('done'), newRuns('done', ['a']));
    await stores.runs.endRun('done-r0', end('failed'));
    await stores.runs.endJob('done', 'completed', null, 3_000);
    expect(await stores.runs.endOrphans(9_000, 'The backend restarted')).toEqual({ runs: 2, jobs: 1 });
    expect((await stores.runs.runsOfJob('j')).map((r) => [r.state, r.error])).toEqual([['cancelled', 'The backend restarted'], ['cancelled', 'The backend restarted'], ['succeeded', null]]);
    expect((await stores.runs.findRun('j-r2'))?.stdout).toBe('kept');
    expect(await stores.runs.findJob('j')).toMatchObject({ state: 'cancelled', reason: 'The backend restarted', endedAt: 9_000 });
    expect(await stores.runs.findJob('done')).toMatchObject({ state: 'completed', endedAt: 3_000 });
    expect(await stores.runs.endOrphans(10_000, 'again')).toEqual({ runs: 0, jobs: 0 });
  });

  it('concurrent cancel and finish of a job run', async () => {
    const { stores } = store();
    const audit = new AuditLog(stores);
    const n = 40;
    const devices = Array.from({ length: n }, (_, i) => `dev_${i}`);
    await stores.runs.insertJob(newJob('race'), newRuns('race', devices));
    for (let i = 0; i < n; i++) await stores.runs.markRunning(`race-r${i}`, 2_000);
    // The two ends as the services write them: the cancel with its audit entry in one transaction.
    const cancel = (runId: string) => stores.transaction(async (tx) => {
      const cancelled = await tx.runs.endRun(runId, end('cancelled', ''));
      if (cancelled) await audit.record('user:alice', 'command.cancel', cancelled.deviceId, { runId }, tx);
      return cancelled !== undefined;
    });
    const finish = async (runId: string) => (await stores.runs.endRun(runId, end('succeeded', 'finished output\n'))) !== undefined;
    const race = async (i: number) => {
      const runId = `race-r${i}`;
      // Half the time the cancel is sent first, half the time the finish, a turn of the event loop
      // ahead (PostgreSQL's group commit sends the ends asked in one turn at the end of it).
      if (i % 2 === 0) {
        const [cancelled, finished] = await Promise.all([cancel(runId), finish(runId)]);
        return { runId, cancelled, finished };
      }
      const finishing = finish(runId);
      await new Promise((resolve) => setImmediate(resolve));
      const [finished, cancelled] = await Promise.all([finishing, cancel(runId)]);
      return { runId, cancelled, finished };
    };
    // The two halves one after the other: raced together, the finishes a turn ahead went in one
    // statement with those of the other half, which waited on the row locks of that half's
    // cancels, and in some runs every cancel won.
    const indices = devices.map((_, i) => i);
    const outcomes = [
      ...(await Promise.all(indices.filter((i) => i % 2 === 0).map(race))),
      ...(await Promise.all(indices.filter((i) => i % 2 === 1).map(race))),
    ];
    const cancels = await auditOf(stores, 'command.cancel');
    for (const { runId, cancelled, finished } of outcomes) {
      // Exactly one wins, and the loser knows.
      expect(cancelled !== finished, runId).toBe(true);
      const run = await stores.runs.findRun(runId);
      const audited = cancels.filter((e) => e.details.runId === runId).length;
      if (cancelled) {
        expect(run).toMatchObject({ state: 'cancelled', stdout: '' });
        expect(audited).toBe(1);
      } else {
        expect(run).toMatchObject({ state: 'succeeded', stdout: 'finished output\n' });
        expect(audited).toBe(0);
      }
    }
    // Both outcomes happen: the ends really race.
    expect(new Set(outcomes.map((o) => o.cancelled))).toEqual(new Set([true, false]));
    const job = await stores.runs.findJob('race');
    expect((job?.counts.cancelled ?? 0) + (job?.counts.succeeded ?? 0)).toBe(n);
    expect(job?.counts.cancelled).toBe(cancels.length);
  });

  it('concurrent cancel and finish of a job run through the run service: on the backend running it and on another one', async () => {
    const { stores } = store();
    const audit = new AuditLog(stores);
    const router = new FakeDeviceRouter((method) => (method === 'command.start' ? { pid: 1 } : { cancelled: true }));
    const here = new RunService({ router, stores, audit, log });
    // Another backend on the same database: it cancels runs it does not run itself.
    const there = new RunService({ router: new FakeDeviceRouter(), stores, audit, log });
    const n = 24;
    const devices = Array.from({ length: n }, (_, i) => `dev_${i}`);
    for (const d of devices) router.online.add(d);
    await stores.runs.insertJob(newJob('svc'), newRuns('svc', devices));
    const results = [];
    for (let i = 0; i < n; i++) {
      const runId = `svc-r${i}`;
      const deviceId = devices[i] ?? '';
      const done = here.execute(runId, deviceId, COMMAND);
      await router.waitFor('command.start', i + 1);
      const start = router.requests.filter((r) => r.method === 'command.start')[i]?.params as { stdoutStreamId: number };
      router.data(start.stdoutStreamId, 'partial\n');
      const exit = () => router.emit(deviceId, 'command.exit', { stdoutStreamId: start.stdoutStreamId, outcome: 'exited', exitCode: 0, signal: null, truncated: false });
      const canceller = i % 4 < 2 ? there : here;
      // The device's exit and a user's cancel at the same moment, in both orders.
      let cancelled: boolean;
      if (i % 2 === 0) {
        const cancelling = canceller.cancel(runId, 'user:alice');
        exit();
        cancelled = await cancelling;
      } else {
        exit();
        cancelled = await canceller.cancel(runId, 'user:alice');
      }
      const state = await done;
      results.push({ runId, cancelled, state, stored: await stores.runs.findRun(runId) });
    }
    const cancels = await auditOf(stores, 'command.cancel');
    for (const { runId, cancelled, state, stored } of results) {
      const audited = cancels.filter((e) => e.details.runId === runId).length;
      // The service that ran the command learns the state that stands, whoever wrote it.
      expect(stored?.state, runId).toBe(state);
      if (cancelled) {
        expect(state).toBe('cancelled');
        expect(audited).toBe(1);
        // What the device sent after the cancel, and its exit, are not appended to the cancelled run.
        expect(stored?.exitCode).toBeNull();
      } else {
        expect(state).toBe('succeeded');
        expect(stored?.stdout).toBe('partial\n');
        expect(audited).toBe(0);
      }
    }
    // Both outcomes happen: the test races, it does not script a winner.
    expect(new Set(results.map((r) => r.state))).toEqual(new Set(['cancelled', 'succeeded']));
    // A cancel that won on this backend told the device to kill the command.
    const localWins = results.filter((r, i) => r.cancelled && i % 4 >= 2).length;
    expect(router.requests.filter((r) => r.method === 'command.cancel').length).toBe(localWins);
    await here.close();
    await there.close();
  });

  it('a job ends once when a user\'s cancel races its completion; the audit shows the one end', async () => {
    const { stores } = store();
    const audit = new AuditLog(stores);
    const n = 20;
    for (let i = 0; i < n; i++) await stores.runs.insertJob(newJob(`job-${i}`), newRuns(`job-${i}`, ['a', 'b']));
    const cancel = (id: string) => stores.transaction(async (tx) => {
      if (!(await tx.runs.endJob(id, 'cancelled', 'cancelled by a user', 5_000))) return false;
      await tx.runs.endQueued(id, 'cancelled', 'cancelled', 5_000);
      await audit.record('user:alice', 'job.cancel', id, {}, tx);
      return true;
    });
    const complete = (id: string) => stores.transaction(async (tx) => {
      if (!(await tx.runs.endJob(id, 'completed', null, 5_000))) return false;
      await tx.runs.endQueued(id, 'cancelled', 'cancelled', 5_000);
      await audit.record('system', 'job.completed', id, {}, tx);
      return true;
    });
    const outcomes = await Promise.all(Array.from({ length: n }, async (_, i) => {
      const id = `job-${i}`;
      const [c, d] = i % 2 === 0 ? await Promise.all([cancel(id), complete(id)]) : (await Promise.all([complete(id), cancel(id)])).reverse();
      return { id, cancelled: c, completed: d };
    }));
    const cancels = await auditOf(stores, 'job.cancel');
    const completions = await auditOf(stores, 'job.completed');
    for (const { id, cancelled, completed } of outcomes) {
      expect(cancelled !== completed, id).toBe(true);
      const job = await stores.runs.findJob(id);
      expect(job?.state).toBe(cancelled ? 'cancelled' : 'completed');
      expect(cancels.filter((e) => e.target === id).length + completions.filter((e) => e.target === id).length).toBe(1);
      expect(cancels.some((e) => e.target === id)).toBe(cancelled);
    }
  });
});

describeEachEngine('job scheduler over the store', (store) => {
  function setup(devices: readonly string[], online: readonly string[]) {
    const { stores } = store();
    let t = 10_000;
    const now = () => t++;
    const audit = new AuditLog(stores, now);
    const router = new FakeDeviceRouter((method) => (method === 'command.start' ? { pid: 1 } : { cancelled: true }));
    for (const d of online) router.online.add(d);
    const fleet: Device[] = devices.map((id) => ({ id, name: id, status: 'active', online: online.includes(id), lastSeen: null, tags: { site: 'lyon' }, facts: null, createdAt: 0 }));
    const runs = new RunService({ router, stores, audit, log, now });
    const jobs = new JobScheduler({ stores, runs, router, events: new FleetEvents(), audit, devices: async () => fleet, log, now });
    return { stores, router, runs, jobs };
  }
  const request = (extra: Partial<JobCreateRequest> = {}): JobCreateRequest => ({
    command: { shell: 'echo hi' }, timeoutMs: 60_000, concurrency: 2, queueOffline: false, offlineExpiryMs: 60_000, selection: { tags: { site: 'lyon' } }, ...extra,
  });
  /** Lets every started run exit with `exitCode`, until the job ends. */
  async function runToEnd(s: ReturnType<typeof setup>, jobId: string, exitCode = 0): Promise<void> {
    const answered = new Set<number>();
    for (let i = 0; i < 400; i++) {
      for (const r of s.router.requests.filter((q) => q.method === 'command.start')) {
        const { stdoutStreamId } = r.params as { stdoutStreamId: number };
        if (answered.has(stdoutStreamId)) continue;
        answered.add(stdoutStreamId);
        s.router.data(stdoutStreamId, `out ${r.deviceId}\n`);
        s.router.emit(r.deviceId, 'command.exit', { stdoutStreamId, outcome: 'exited', exitCode, signal: null, truncated: false });
      }
      if ((await s.stores.runs.findJob(jobId))?.state !== 'running') return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('the job did not end');
  }

  it('runs a job to completion: offline devices fail at once, progress and audit match', async () => {
    const s = setup(['d1', 'd2', 'd3', 'd4'], ['d1', 'd2', 'd4']);
    await s.jobs.ready;
    const created = await s.jobs.create('user:alice', request());
    expect(created).toMatchObject({ state: 'running', total: 4 });
    expect(created.runs.map((r) => r.deviceId)).toEqual(['d1', 'd2', 'd3', 'd4']);
    await runToEnd(s, created.id);
    const done = await s.jobs.detail(created.id);
    expect(done).toMatchObject({ state: 'completed', counts: { succeeded: 3, failed: 1 } });
    expect(done.runs.find((r) => r.deviceId === 'd3')).toMatchObject({ state: 'failed', error: expect.stringMatching(/^DEVICE_OFFLINE/) });
    expect(done.runs.find((r) => r.deviceId === 'd1')).toMatchObject({ state: 'succeeded', stdout: 'out d1\n' });
    expect((await s.jobs.list(10)).map((j) => j.id)).toEqual([created.id]);
    expect((await auditOf(s.stores, 'job.create')).map((e) => e.target)).toEqual([created.id]);
    expect((await auditOf(s.stores, 'job.completed')).map((e) => e.actor)).toEqual(['system']);
    expect(await codeOf(s.jobs.cancel(created.id, 'user:alice'))).toBe('CONFLICT');
    expect(await codeOf(s.jobs.cancel('00000000-0000-4000-8000-000000000000', 'user:alice'))).toBe('NOT_FOUND');
    expect(await auditOf(s.stores, 'job.cancel')).toEqual([]);
    await s.jobs.close();
    await s.runs.close();
  });

  it('a cancelled job: queued runs cancelled with the job, running ones killed, one job.cancel and no second end', async () => {
    const s = setup(['d1', 'd2', 'd3', 'd4', 'd5'], ['d1', 'd2', 'd3', 'd4', 'd5']);
    const created = await s.jobs.create('user:alice', request({ concurrency: 2 }));
    await s.router.waitFor('command.start', 2);
    const cancelled = await s.jobs.cancel(created.id, 'user:bob');
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.counts).toMatchObject({ cancelled: 5, running: 0, queued: 0 });
    expect(s.router.requests.filter((r) => r.method === 'command.cancel').length).toBe(2);
    // The killed commands' exits come later and change nothing.
    await runToEnd(s, created.id);
    await s.jobs.close();
    expect((await s.jobs.detail(created.id)).counts).toMatchObject({ cancelled: 5 });
    expect((await auditOf(s.stores, 'job.cancel')).map((e) => e.actor)).toEqual(['user:bob']);
    expect(await auditOf(s.stores, 'job.cancelled')).toEqual([]);
    expect((await auditOf(s.stores, 'command.cancel')).length).toBe(2);
    expect(await codeOf(s.jobs.cancel(created.id, 'user:bob'))).toBe('CONFLICT');
    await s.runs.close();
  });

  it('a single command: recorded and audited together; a second cancel is refused', async () => {
    const s = setup(['d1'], ['d1']);
    const run = await s.runs.runOne('user:alice', 'd1', COMMAND, false);
    expect(run).toMatchObject({ state: 'running', jobId: null, deviceId: 'd1' });
    expect((await s.runs.ofDevice('d1', 10)).map((r) => r.id)).toEqual([run.id]);
    expect(await s.runs.cancel(run.id, 'user:alice')).toBe(true);
    expect(await s.runs.cancel(run.id, 'user:alice')).toBe(false);
    expect(await s.runs.view(run.id)).toMatchObject({ state: 'cancelled' });
    expect((await auditOf(s.stores, 'command.run')).map((e) => e.details.runId)).toEqual([run.id]);
    expect((await auditOf(s.stores, 'command.cancel')).map((e) => e.details.runId)).toEqual([run.id]);
    expect(await codeOf(s.runs.view('nope'))).toBe('NOT_FOUND');
    await s.runs.close();
  });
});

describeEachEngine('runs and jobs of a backend process that died', (store) => {
  it('lists the owners of unfinished work, and ends only the work of the one that is gone', async () => {
    const { stores } = store();
    await stores.runs.insertJob({ ...newJob('ja'), owner: 'node-a#1' }, newRuns('ja', ['a', 'b']).map((r) => ({ ...r, owner: 'node-a#1' })));
    await stores.runs.markRunning('ja-r0', 2_000);
    await stores.runs.insertJob({ ...newJob('jb'), owner: 'node-b#1' }, newRuns('jb', ['c']).map((r) => ({ ...r, owner: 'node-b#1' })));
    await stores.runs.insertRun({ id: 'single', jobId: null, deviceId: 'd', command: COMMAND, batch: null, createdBy: 'user:alice', createdAt: 1_000, owner: 'node-a#1' });
    await stores.runs.insertRun({ id: 'alone', jobId: null, deviceId: 'd', command: COMMAND, batch: null, createdBy: 'user:alice', createdAt: 1_000 });
    expect((await stores.runs.openOwners()).sort()).toEqual(['node-a#1', 'node-b#1']);

    expect(await stores.runs.endOwnedBy('node-a#1', 9_000, 'The backend node running it stopped')).toEqual({ runs: 3, jobs: 1 });
    expect((await stores.runs.runsOfJob('ja')).map((r) => [r.state, r.error])).toEqual([['cancelled', 'The backend node running it stopped'], ['cancelled', 'The backend node running it stopped']]);
    expect(await stores.runs.findRun('single')).toMatchObject({ state: 'cancelled' });
    expect(await stores.runs.findJob('ja')).toMatchObject({ state: 'cancelled', endedAt: 9_000 });
    // Another owner's work, and work with no owner (a single node's), are left alone.
    expect(await stores.runs.findJob('jb')).toMatchObject({ state: 'running' });
    expect(await stores.runs.findRun('alone')).toMatchObject({ state: 'queued' });
    expect(await stores.runs.openOwners()).toEqual(['node-b#1']);
    expect(await stores.runs.endOwnedBy('node-a#1', 10_000, 'again')).toEqual({ runs: 0, jobs: 0 });
  });
});
