import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../agent/control/control-client.js';
import { loadAgentState } from '../../agent/state/agent-state.js';
import { startTcpProxy, type TcpProxy } from '../hardening/tcp-proxy.js';
import { cleanup, createToken, login, registerAgent, startBackend, tempDir, waitFor, type Backend } from '../harness.js';

// A reconnect resumes the TLS session: in a reconnect storm the backend skips the TLS certificate
// signature for every returning agent (bench `storm`), while the channel handshake still runs.
describe('control channel reconnects resume the TLS session', () => {
  let backend: Backend;
  let proxy: TcpProxy;
  const dirs: string[] = [];

  beforeAll(async () => {
    backend = await startBackend();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: backend.port });
  });

  afterAll(async () => {
    await proxy?.close();
    await backend?.stop();
    for (const dir of [backend?.home, ...dirs]) if (dir) cleanup(dir);
  });

  it('the first connection is a full handshake; after a network cut the agent resumes', async () => {
    const stateDir = tempDir('resume');
    dirs.push(stateDir);
    const reg = await registerAgent(backend, await createToken(backend, await login(backend)), stateDir);
    expect(reg.code).toBe(0);
    const connects: Array<{ tlsResumed?: unknown }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => {
      const entry = JSON.parse(line) as { msg?: string; tlsResumed?: unknown };
      if (entry.msg === 'connected') connects.push(entry);
    } });
    const state = { ...loadAgentState(stateDir), backendUrl: `https://127.0.0.1:${proxy.port}` };
    const client = new ControlClient({ state, log, backoffBaseMs: 100, onConnected: () => undefined, onFatal: () => undefined });
    client.start();
    try {
      await waitFor(() => connects.length === 1, 15_000, 'the first connection');
      proxy.cutAll();
      await waitFor(() => connects.length === 2, 15_000, 'the reconnection');
      expect(connects.map((c) => c.tlsResumed)).toEqual([false, true]);
    } finally {
      client.stop();
    }
  });
});
