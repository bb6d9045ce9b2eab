import type { Command } from 'commander';
import { escapeControlCharacters } from '../protocol/index.js';

/**
 * What the CLI prints: names, tags, paths and error messages come from outside, so control
 * characters are shown escaped (an ESC in a device name must not recolour or rewrite the
 * operator's terminal). Newlines and tabs are the CLI's own layout and pass as they are.
 */
export function terminalSafe(text: string): string {
  return escapeControlCharacters(text, '\n\t');
}

export function printOut(text: string): void {
  process.stdout.write(terminalSafe(text));
}

export function printErr(text: string): void {
  process.stderr.write(terminalSafe(text));
}

/** Commander's own help and error output (which quotes the arguments given) through the same filter. */
export function safeCommanderOutput(program: Command): Command {
  return program.configureOutput({ writeOut: printOut, writeErr: printErr });
}
