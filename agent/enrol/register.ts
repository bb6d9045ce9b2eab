import { CaPin, RegisterResponse } from '../../protocol/api.js';
import { TetherError } from '../../protocol/errors.js';
import { postJson } from '../net/https-json.js';
import { isRegistered, saveAgentState, type AgentState } from '../state/agent-state.js';
import { collectFacts } from '../system/facts.js';
import { createDeviceKeyAndCsr } from './csr.js';
import { fetchPinnedCa } from '../../channel/pinned-ca.js';

export interface RegisterOptions {
  backendUrl: string;
  token: string;
  caPin: string;
  stateDir: string;
  name?: string;
}

/**
 * Enrols this device: checks the backend's CA against the pin before sending anything, makes
 * a key pair here (the private key never leaves the device), sends a CSR with the token, and
 * stores the certificate and telemetry token in the state directory (0700, files 0600).
 */
export async function registerDevice(options: RegisterOptions): Promise<AgentState> {
  if (!CaPin.safeParse(options.caPin).success) throw new TetherError('BAD_REQUEST', '--ca-pin must look like sha256:<64 hex digits>');
  let base: URL;
  try {
    base = new URL(options.backendUrl);
  } catch {
    throw new TetherError('BAD_REQUEST', `--backend must be an https:// URL, not ${JSON.stringify(options.backendUrl)}`);
  }
  if (base.protocol !== 'https:') throw new TetherError('BAD_REQUEST', '--backend must be an https:// URL');
  if (isRegistered(options.stateDir)) throw new TetherError('CONFLICT', `${options.stateDir} already holds a registered agent`);

  const caCertPem = await fetchPinnedCa(base.origin, options.caPin);
  const { keyPem, csrPem } = await createDeviceKeyAndCsr();
  const facts = collectFacts();
  const answer = RegisterResponse.safeParse(
    await postJson(new URL('/api/v1/agent/register', base).href, { token: options.token, csr: csrPem, name: options.name, facts }, caCertPem),
  );
  if (!answer.success) throw new TetherError('BAD_REQUEST', 'The backend answered registration with an unexpected body');
  const state: AgentState = {
    deviceId: answer.data.deviceId,
    backendUrl: base.origin,
    caPin: options.caPin,
    name: options.name ?? facts.hostname,
    registeredAt: Date.now(),
    keyPem,
    certPem: answer.data.certificate,
    caCertPem,
    telemetryToken: answer.data.telemetryToken,
  };
  saveAgentState(options.stateDir, state);
  return state;
}
