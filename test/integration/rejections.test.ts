import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_OVERHEAD, sealFrame } from '../../channel/frame.js';
import { ERRORS, type ErrorCode } from '../../protocol/index.js';
import { api, cleanup, createToken, deviceOf, enrolAndRun, login, openConsole, registerAgent, startBackend, tempDir, type Backend, type Proc } from '../harness.js';
import { enrolIdentity, handshake, type Identity, type RawChannel } from './rogue-device.js';

const JSON_KIND = 0x01;

function closedWith(code: ErrorCode) {
  return { code: ERRORS[code].close, reason: code };
}

/** Seals `body` as the next client→server frame of epoch 0. */
function seal(channel: RawChannel & { established?: { keys: { c2sKey: Buffer; c2sIv: Buffer } } }, counter: bigint, body: Buffer): Buffer {
  const keys = channel.established?.keys;
  if (!keys) throw new Error('handshake did not complete');
  return sealFrame(keys.c2sKey, keys.c2sIv, 0, counter, Buffer.concat([Buffer.from([JSON_KIND]), body]));
}

describe('refusals, each with its own code, while another device stays connected', () => {
  let backend: Backend;
  let admin: string;
  let good: { proc: Proc; stateDir: string; deviceId: string };
  let a: Identity;
  let b: Identity;
  const dirs: string[] = [];

  beforeAll(async () => {
    backend = await startBackend();
    admin = await login(backend);
    good = await enrolAndRun(backend, admin, 'steady');
    [a, b] = await Promise.all([enrolIdentity(backend, admin), enrolIdentity(backend, admin)]);
  });

  afterAll(async () => {
    // The bystander was connected once and never dropped, whatever the others did.
    expect(good.proc.count((e) => e.msg === 'connected')).toBe(1);
    expect(good.proc.count((e) => e.msg === 'control channel closed; reconnecting')).toBe(0);
    const console = await openConsole(backend, admin);
    expect(await console.request(good.deviceId, 'system.echo', { payload: 'still here' })).toMatchObject({ ok: true, result: { payload: 'still here' } });
    console.close();
    expect((await deviceOf(backend, admin, good.deviceId))?.online).toBe(true);
    await good.proc.stop();
    await backend.stop();
    cleanup(backend.home, good.stateDir, ...dirs);
  });

  it('wrong CA pin: the agent refuses before sending its token (CA_PIN_MISMATCH)', async () => {
    const dir = tempDir('agent');
    dirs.push(dir);
    const token = await createToken(backend, admin);
    const res = await registerAgent({ url: backend.url, caPin: `sha256:${'0'.repeat(64)}` }, token, dir);
    expect(res.code).toBe(1);
    expect(res.output).toContain('CA_PIN_MISMATCH');
    // The token was never sent, so it still works.
    expect((await registerAgent(backend, token, tempDir('agent'))).code).toBe(0);
  });

  it('expired token (TOKEN_EXPIRED)', async () => {
    const token = await createToken(backend, admin, { ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1_100));
    const res = await registerAgent(backend, token, tempDir('agent'));
    expect(res.code).toBe(1);
    expect(res.output).toContain('TOKEN_EXPIRED');
  });

  it('used-up token (TOKEN_USED_UP)', async () => {
    const token = await createToken(backend, admin, { uses: 1 });
    expect((await registerAgent(backend, token, tempDir('agent'))).code).toBe(0);
    const res = await registerAgent(backend, token, tempDir('agent'));
    expect(res.code).toBe(1);
    expect(res.output).toContain('TOKEN_USED_UP');
  });

  it('revoked token (TOKEN_REVOKED)', async () => {
    const created = await api(backend, 'POST', '/api/v1/tokens', { token: admin, body: { uses: 5 } });
    const { id, token } = created.body as { id: string; token: string };
    expect((await api(backend, 'POST', `/api/v1/tokens/${id}/revoke`, { token: admin })).body).toMatchObject({ id, revokedAt: expect.any(Number) });
    const res = await registerAgent(backend, token, tempDir('agent'));
    expect(res.code).toBe(1);
    expect(res.output).toContain('TOKEN_REVOKED');
  });

  it('wrong device key (BAD_SIGNATURE)', async () => {
    const other = await enrolIdentity(backend, admin);
    const channel = await handshake(backend, a.deviceId, a.certPem, other.keyPem);
    expect(await channel.closed).toEqual(closedWith('BAD_SIGNATURE'));
  });

  it('certificate of another device (CERT_SUBJECT_MISMATCH)', async () => {
    const channel = await handshake(backend, a.deviceId, b.certPem, b.keyPem);
    expect(await channel.closed).toEqual(closedWith('CERT_SUBJECT_MISMATCH'));
  });

  it('wrong protocol version (PROTOCOL_VERSION)', async () => {
    const channel = await handshake(backend, a.deviceId, a.certPem, a.keyPem, 99);
    expect(await channel.closed).toEqual(closedWith('PROTOCOL_VERSION'));
  });

  it('tampered frame (FRAME_AUTH_FAILED)', async () => {
    const channel = await handshake(backend, a.deviceId, a.certPem, a.keyPem);
    const frame = seal(channel, 0n, Buffer.from(JSON.stringify({ type: 'ping', ts: 1 })));
    frame[frame.length - 20] = (frame[frame.length - 20] ?? 0) ^ 0x01;
    channel.ws.send(frame);
    expect(await channel.closed).toEqual(closedWith('FRAME_AUTH_FAILED'));
  });

  it('replayed frame (FRAME_REPLAY)', async () => {
    const channel = await handshake(backend, a.deviceId, a.certPem, a.keyPem);
    const frame = seal(channel, 0n, Buffer.from(JSON.stringify({ type: 'ping', ts: 1 })));
    channel.ws.send(frame);
    channel.ws.send(frame);
    expect(await channel.closed).toEqual(closedWith('FRAME_REPLAY'));
  });

  it('oversize frame (FRAME_TOO_LARGE)', async () => {
    const channel = await handshake(backend, a.deviceId, a.certPem, a.keyPem);
    channel.ws.send(seal(channel, 0n, Buffer.alloc(1024 * 1024 + 1 - FRAME_OVERHEAD, 0x20)));
    expect(await channel.closed).toEqual(closedWith('FRAME_TOO_LARGE'));
  });

  it('malformed JSON (MESSAGE_MALFORMED)', async () => {
    const channel = await handshake(backend, a.deviceId, a.certPem, a.keyPem);
    channel.ws.send(seal(channel, 0n, Buffer.from('{"type":"ping",')));
    expect(await channel.closed).toEqual(closedWith('MESSAGE_MALFORMED'));
  });

  it('unknown message type (MESSAGE_UNKNOWN_TYPE)', async () => {
    const channel = await handshake(backend, a.deviceId, a.certPem, a.keyPem);
    channel.ws.send(seal(channel, 0n, Buffer.from(JSON.stringify({ type: 'format_disk' }))));
    expect(await channel.closed).toEqual(closedWith('MESSAGE_UNKNOWN_TYPE'));
  });

  it('a device id that was never enrolled (DEVICE_UNKNOWN)', async () => {
    const channel = await handshake(backend, 'dev_zzzzzzzzzzzzzzzzzzzzzzzz', a.certPem, a.keyPem);
    expect(await channel.closed).toEqual(closedWith('DEVICE_UNKNOWN'));
  });

  it('keeps the revoked-token and state files private (0600 in a 0700 directory)', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(good.stateDir).mode & 0o777).toBe(0o700);
    for (const file of ['device.key', 'telemetry.token', 'state.json']) {
      expect(statSync(join(good.stateDir, file)).mode & 0o777).toBe(0o600);
    }
    expect(readFileSync(join(good.stateDir, 'device.key'), 'utf8')).toContain('PRIVATE KEY');
  });
});
