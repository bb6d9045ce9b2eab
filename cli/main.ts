import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CliError } from './cli-error.js';
import { cp, devices, exec, forward, jobsRun, login, logout, shell, type CliIo, type CommandOptions, type ForwardOptions, type JobRunOptions } from './commands.js';
import { credentialsPath } from './credentials.js';
import { Prompter } from './prompt.js';
import { jsonLine, terminalSafe } from './terminal-text.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function collectTag(value: string, tags: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('use key=value');
  return { ...tags, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const timeoutOption = () => new Option('--timeout <seconds>', 'stop the command after this long on the device').argParser(positiveInt).default(60);

/** Where errors go in the shape asked for: `--json` makes them `{code, message}` on stderr too. */
interface ErrorStyle {
  json: boolean;
}

export function tetherProgram(io: CliIo, style: ErrorStyle, exit: (status: number) => void): Command {
  const program = new Command('tether')
    .description("Tether operators' CLI: log in to a backend, list devices, run commands and jobs, open shells")
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.stdout.write(terminalSafe(s)), writeErr: (s) => io.stderr.write(terminalSafe(s)) });
  const json = (opts: { json?: boolean }): void => {
    style.json = opts.json === true;
  };

  program
    .command('login')
    .description('check the backend against its CA pin, log in and keep the session in the user config directory')
    .argument('<url>', 'the backend, e.g. https://fleet.example.com:8443')
    .requiredOption('--ca-pin <pin>', 'the CA pin, sha256:<hex> (`tether-backend ca pin`)')
    .requiredOption('--username <name>', 'console user name')
    .option('--json', 'print the logged-in user as JSON')
    .action(async (url: string, opts: { caPin: string; username: string; json?: boolean }) => {
      json(opts);
      await login(io, url, opts);
    });

  program
    .command('logout')
    .description('end the session on the backend and delete the stored credentials')
    .action(async () => logout(io));

  program
    .command('devices')
    .description('list the devices you may see')
    .option('--query <text>', 'only devices whose name, id, host name or a key=value tag contains this (as a job --query selects)')
    .option('--json', "print the API's JSON ({devices, nextAfter})")
    .action(async (opts: { query?: string; json?: boolean }) => {
      json(opts);
      await devices(io, opts);
    });

  program
    .command('exec')
    .description('run a command on a device: its output, then its exit status')
    .argument('<device>', 'device id or unique name')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--shell', 'run the words through /bin/sh -c on the device (pipes, globs), as ssh does')
    .option('--cwd <dir>', 'working directory on the device')
    .addOption(timeoutOption())
    .option('--raw', 'write the output as it is, even to a terminal (control characters are escaped otherwise)')
    .option('--json', 'print the finished run as JSON (state, exitCode, stdout, stderr) instead of streaming')
    .action(async (device: string, words: string[], opts: CommandOptions) => {
      json(opts);
      exit(await exec(io, device, words, opts));
    });

  program
    .command('shell')
    .description('an interactive shell on a device; ~. at the start of a line leaves')
    .argument('<device>', 'device id or unique name')
    .action(async (device: string) => {
      exit(await shell(io, device));
    });

  program
    .command('cp')
    .description('copy a file to or from a device (SHA-256 checked, resumed after an interruption)')
    .argument('<source>', 'a local file, or DEVICE:/path on a device (DEVICE: an id or unique name)')
    .argument('<destination>', 'DEVICE:/path (a trailing / keeps the file name), or a local file or directory')
    .option('--mode <octal>', 'permissions of an uploaded file, e.g. 0644 (default: the agent user\'s umask)')
    .addOption(new Option('--retries <n>', 'resume this many times after an interruption before giving up').argParser(positiveInt).default(5))
    .option('--json', 'print the finished copy as JSON (direction, deviceId, path, local, size, sha256, resumedFrom)')
    .action(async (source: string, destination: string, opts: { mode?: string; retries: number; json?: boolean }) => {
      json(opts);
      await cp(io, source, destination, opts);
    });

  program
    .command('forward')
    .description('forward a local TCP port to a host and port as the device reaches them (its loopback by default), until Ctrl-C')
    .argument('<device>', 'device id or unique name')
    .argument('<spec>', '[BIND:]LPORT:HOST:RPORT, e.g. 8080:127.0.0.1:80 (BIND defaults to 127.0.0.1; LPORT 0 picks a free port)')
    .option('--json', 'print one JSON line per event: listening, open, close (with byte counts and error code), stopped')
    .action(async (device: string, spec: string, opts: ForwardOptions) => {
      json(opts);
      exit(await forward(io, device, spec, opts));
    });

  const jobs = program.command('jobs').description('fleet jobs');
  jobs
    .command('run')
    .description('run a command on every selected device, with a live count per state until the job ends')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--query <text>', 'devices whose name, id, host name or key=value tag contains this')
    .option('--tag <key=value>', 'devices carrying this tag (repeatable: all must match)', collectTag)
    .option('--device <id>', 'this device (repeatable)', collect)
    .option('--concurrency <n>', 'runs at once', positiveInt)
    .option('--batch-size <n>', 'staged rollout: devices per batch', positiveInt)
    .option('--shell', 'run the words through /bin/sh -c on each device')
    .option('--cwd <dir>', 'working directory on the devices')
    .addOption(timeoutOption())
    .option('--json', 'print the finished job with its runs as JSON')
    .action(async (words: string[], opts: JobRunOptions) => {
      json(opts);
      exit(await jobsRun(io, words, opts));
    });

  return program;
}

/** The process's own streams and signals. */
function processIo(): CliIo {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    credentialsPath: credentialsPath(),
    prompter: new Prompter(process.stdin, process.stderr),
    now: Date.now,
    sleep: (ms) => sleep(ms),
    onInterrupt: async (handler, during) => {
      let interrupted = false;
      const onSigint = (): void => {
        if (interrupted) process.exit(130);
        interrupted = true;
        process.stderr.write('\ntether: cancelling (Ctrl-C again to leave at once)\n');
        handler();
      };
      process.on('SIGINT', onSigint);
      try {
        return await during();
      } finally {
        process.off('SIGINT', onSigint);
      }
    },
  };
}

/** Runs the CLI. An error prints `error CODE: message` (or, after --json, `{"code","message"}`) on stderr and exits non-zero. */
export async function runTetherCli(argv: string[]): Promise<void> {
  const io = processIo();
  const style: ErrorStyle = { json: false };
  let status = 0;
  try {
    await tetherProgram(io, style, (s) => (status = s)).parseAsync(argv);
  } catch (err) {
    let error = CliError.from(err);
    if (error.code === 'SESSION_INVALID' && !style.json) error = new CliError(error.code, `${error.message}: run \`tether login\` again`, error.exitCode);
    io.stderr.write(style.json ? jsonLine(error) : terminalSafe(`error ${error.code}: ${error.message}\n`));
    status = error.exitCode;
  } finally {
    io.prompter.close();
  }
  // Pending handles (a keep-alive socket, stdin) must not hold the exit.
  process.exit(status);
}
