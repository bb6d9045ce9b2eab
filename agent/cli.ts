import { X509Certificate } from 'node:crypto';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { TetherError } from '../protocol/errors.js';
import { AGENT_ENV_HELP, agentTuning, readAgentEnv, type AgentEnv } from './env.js';
import { runAgent } from './main.js';
import { loadAgentState } from './state/agent-state.js';

/** Exit code when the backend refused this device for good (revoked, unknown): do not restart blindly. */
export const EXIT_REFUSED = 3;

const stateOption = () => new Option('--state <dir>', 'agent state directory').env('TETHER_AGENT_STATE').default('/var/lib/tether-agent');

export function agentProgram(): Command {
  const program = new Command('tether-agent').description('Tether agent: connects this device to its backend').showHelpAfterError().addHelpText('after', AGENT_ENV_HELP);
  // Read once, before any command runs (not for --help): a bad value stops every command alike.
  let env: AgentEnv = {};
  program.hook('preAction', () => {
    env = readAgentEnv(process.env);
  });

  program
    .command('register')
    .description('enrol this device with a registration token')
    .requiredOption('--backend <url>', 'backend URL, e.g. https://fleet.example.com:8443')
    .requiredOption('--token <token>', 'registration token')
    .requiredOption('--ca-pin <pin>', 'pin of the backend CA, sha256:<hex>')
    .addOption(stateOption())
    .option('--name <name>', 'device name (default: host name)')
    .action(async (opts: { backend: string; token: string; caPin: string; state: string; name?: string }) => {
      // Loaded here only: enrolment's CSR code (node-forge) would otherwise stay resident in every running agent.
      const { registerDevice } = await import('./enrol/register.js');
      const state = await registerDevice({ backendUrl: opts.backend, token: opts.token, caPin: opts.caPin, stateDir: resolve(opts.state), name: opts.name });
      process.stdout.write(`registered ${state.deviceId} (${state.name}) with ${state.backendUrl}\n`);
    });

  program
    .command('run')
    .description('keep the control and telemetry channels up')
    .addOption(stateOption())
    .addHelpText('after', AGENT_ENV_HELP)
    .action(async (opts: { state: string }) => {
      const log = pino();
      const agent = runAgent(resolve(opts.state), agentTuning(env), log);
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.on(signal, () => {
          agent.stop();
          process.exit(0);
        });
      }
      const code = await agent.fatal;
      agent.stop();
      process.stderr.write(`error ${code}: the backend refused this device; re-enrol it to connect again\n`);
      process.exit(EXIT_REFUSED);
    });

  program
    .command('status')
    .description('show this agent\'s enrolment')
    .addOption(stateOption())
    .option('--json', 'print JSON')
    .action((opts: { state: string; json?: boolean }) => {
      const state = loadAgentState(resolve(opts.state));
      const cert = new X509Certificate(state.certPem);
      const status = { deviceId: state.deviceId, name: state.name, backend: state.backendUrl, caPin: state.caPin, registeredAt: new Date(state.registeredAt).toISOString(), certificateValidTo: new Date(cert.validTo).toISOString() };
      process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : Object.entries(status).map(([k, v]) => `${k.padEnd(19)}${v}`).join('\n') + '\n');
    });

  return program;
}

/** Runs the CLI; a TetherError prints `error CODE: message` and exits 1. */
export async function runAgentCli(argv: string[]): Promise<void> {
  try {
    await agentProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof TetherError) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
