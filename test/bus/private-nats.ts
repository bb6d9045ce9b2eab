import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A nats-server of a test's own (started and stopped by it), for outages; needs the binary (Debian: nats-server). */
const NATS_SERVER = process.env.TETHER_TEST_NATS_SERVER ?? 'nats-server';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts nats-server with JetStream on 127.0.0.1:`port`, its store in `storeDir`; resolves once it is ready. */
export async function startNats(port: number, storeDir: string, extraArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Server is ready')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('error', (err) => reject(new Error(`cannot run ${NATS_SERVER} (Debian: apt-get install nats-server, or set TETHER_TEST_NATS_SERVER): ${err.message}`)));
    child.on('exit', (code) => reject(new Error(`nats-server exited (${code}):\n${output}`)));
  });
  return child;
}

export async function stopNats(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

