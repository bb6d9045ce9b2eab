import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';

/** The NATS the cluster tests use (JetStream on); each test gets its own prefix, so its subjects and buckets. */
export const TEST_NATS_URL = process.env.TETHER_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

const HOW_TO_START = `NATS with JetStream is not reachable at ${TEST_NATS_URL}. The cluster tests need it (they are not skipped). Start it with:\n` +
  '  nats-server -js -a 127.0.0.1 -p 4222 &    (Debian: apt-get install nats-server)\n' +
  'or point TETHER_TEST_NATS_URL at a NATS server with JetStream enabled.';

/** A prefix no other test uses. */
export function testPrefix(): string {
  return `tt${randomBytes(5).toString('hex')}`;
}

/** Connects to the test NATS, failing with how to start it when it is not there. */
export async function testNats(): Promise<NatsConnection> {
  try {
    return await connect({ servers: TEST_NATS_URL, timeout: 3_000, maxReconnectAttempts: 0 });
  } catch (err) {
    throw new Error(`${HOW_TO_START}\n(${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

/** Deletes the buckets (JetStream streams) of a test's prefix. */
export async function dropPrefix(prefix: string): Promise<void> {
  const nc = await testNats();
  try {
    const jsm = await nc.jetstreamManager();
    for (const bucket of [`${prefix}-presence`, `${prefix}-nodes`]) await jsm.streams.delete(`KV_${bucket}`).catch(() => false);
  } finally {
    await nc.close();
  }
}
