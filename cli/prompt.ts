import { createInterface, type Interface } from 'node:readline';
import { CliError } from './cli-error.js';

/*
 * node:readline rather than a prompt library: none is a dependency of this package yet
 * (@inquirer/password would do; see the report of issue 19). A terminal gets a prompt with no
 * echo; piped input (scripts, tests) gives one line per answer.
 */

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const BACKSPACE = 0x7f;
const CTRL_H = 0x08;
const MAX_ANSWER = 1024;

export class Prompter {
  private lines: Interface | null = null;
  private readonly queued: string[] = [];
  private readonly waiting: Array<(line: string | null) => void> = [];
  private ended = false;

  constructor(
    private readonly input: NodeJS.ReadStream,
    private readonly output: NodeJS.WriteStream,
  ) {}

  /** A password or code: not echoed on a terminal. */
  async secret(question: string): Promise<string> {
    if (!this.input.isTTY) {
      this.output.write(question);
      return this.line();
    }
    // Echo is off before the prompt shows, so nothing typed after it can be echoed.
    const answer = await readHidden(this.input, () => this.output.write(question));
    this.output.write('\n');
    return answer;
  }

  /** A visible answer. */
  async ask(question: string): Promise<string> {
    this.output.write(question);
    return this.line();
  }

  close(): void {
    this.lines?.close();
    this.lines = null;
  }

  private line(): Promise<string> {
    if (this.lines === null && !this.ended) {
      this.lines = createInterface({ input: this.input, terminal: false, crlfDelay: Infinity });
      this.lines.on('line', (line) => {
        const wake = this.waiting.shift();
        if (wake) wake(line);
        else this.queued.push(line);
      });
      this.lines.on('close', () => {
        this.ended = true;
        for (const wake of this.waiting.splice(0)) wake(null);
      });
    }
    const next = this.queued.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.ended) return Promise.reject(CliError.of('BAD_REQUEST', 'The input ended before an answer'));
    return new Promise((resolve, reject) => {
      this.waiting.push((line) => (line === null ? reject(CliError.of('BAD_REQUEST', 'The input ended before an answer')) : resolve(line)));
    });
  }
}

/** Reads keys in raw mode until Enter; Ctrl-C or Ctrl-D abort, Backspace and Ctrl-U edit. */
function readHidden(input: NodeJS.ReadStream, prompt: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    prompt();
    input.resume();
    const done = (error: CliError | null): void => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      if (error) reject(error);
      else resolve(answer);
    };
    const onData = (data: Buffer): void => {
      for (const char of data.toString('utf8')) {
        const code = char.charCodeAt(0);
        if (char === '\r' || char === '\n') return done(null);
        if (code === CTRL_C || code === CTRL_D) return done(CliError.of('BAD_REQUEST', 'Cancelled'));
        if (code === BACKSPACE || code === CTRL_H) answer = [...answer].slice(0, -1).join('');
        else if (code === CTRL_U) answer = '';
        else if (code >= 0x20 && answer.length < MAX_ANSWER) answer += char;
      }
    };
    input.on('data', onData);
  });
}
