import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CaPin } from '../../protocol/api.js';
import { DeviceId } from '../../protocol/control.js';
import { TetherError } from '../../protocol/errors.js';

/** What `register` writes and `run` reads; secrets live in their own 0600 files beside it. */
export const AgentStateFile = z.object({
  deviceId: DeviceId,
  backendUrl: z.url({ protocol: /^https$/ }),
  caPin: CaPin,
  name: z.string(),
  registeredAt: z.number(),
});
export type AgentStateFile = z.infer<typeof AgentStateFile>;

export interface AgentState extends AgentStateFile {
  keyPem: string;
  certPem: string;
  caCertPem: string;
  telemetryToken: string;
}

const FILES = { state: 'state.json', key: 'device.key', cert: 'device.crt', ca: 'ca.crt', telemetry: 'telemetry.token' } as const;

/** Writes a file 0600 through a temporary name, so a crash never leaves half a key. */
function writeSecretFile(path: string, content: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function isRegistered(dir: string): boolean {
  return existsSync(join(dir, FILES.state));
}

/** Saves the state; the state file goes last, so a directory with state.json is always complete. */
export function saveAgentState(dir: string, state: AgentState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeSecretFile(join(dir, FILES.key), state.keyPem);
  writeSecretFile(join(dir, FILES.cert), state.certPem);
  writeSecretFile(join(dir, FILES.ca), state.caCertPem);
  writeSecretFile(join(dir, FILES.telemetry), state.telemetryToken);
  const file: AgentStateFile = { deviceId: state.deviceId, backendUrl: state.backendUrl, caPin: state.caPin, name: state.name, registeredAt: state.registeredAt };
  writeSecretFile(join(dir, FILES.state), `${JSON.stringify(file, null, 2)}\n`);
}

/** Loads and validates the state; BAD_REQUEST with the reason when it is missing or damaged. */
export function loadAgentState(dir: string): AgentState {
  if (!isRegistered(dir)) throw new TetherError('BAD_REQUEST', `${dir} holds no agent state: run \`tether-agent register\` first`);
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(read(FILES.state));
  } catch (cause) {
    throw new TetherError('BAD_REQUEST', `${join(dir, FILES.state)} is not valid JSON`, { cause });
  }
  const parsed = AgentStateFile.safeParse(json);
  if (!parsed.success) throw new TetherError('BAD_REQUEST', `${join(dir, FILES.state)} is damaged: ${parsed.error.issues[0]?.message ?? ''}`);
  return { ...parsed.data, keyPem: read(FILES.key), certPem: read(FILES.cert), caCertPem: read(FILES.ca), telemetryToken: read(FILES.telemetry).trim() };
}
