import type { Command, Option } from 'commander';
import { printOut } from '../terminal-output.js';
import { backupHome, restoreHome } from './backup.js';

/** `backup` and `restore` subcommands of `tether-backend`. */
export function addOpsCommands(program: Command, homeOption: () => Option): void {
  program
    .command('backup')
    .description('online backup of the databases, PKI and recordings (safe while the backend runs)')
    .addOption(homeOption())
    .requiredOption('--out <path>', 'a new directory, or a file ending in .tar.gz')
    .option('--json', 'print JSON')
    .action(async (opts: { home: string; out: string; json?: boolean }) => {
      const summary = await backupHome(opts.home, opts.out);
      if (opts.json) printOut(`${JSON.stringify(summary, null, 2)}\n`);
      else {
        const dbs = summary.manifest.databases.map((d) => `${d.file} (schema ${d.userVersion}, ${d.pages} pages)`).join(', ');
        printOut(`backup written to ${summary.out}: ${dbs}; integrity ok\n`);
      }
    });

  program
    .command('restore')
    .description('restore a backup into a home; refuses while a backend runs on it')
    .addOption(homeOption())
    .requiredOption('--from <path>', 'a backup directory or .tar.gz made by `backup`')
    .option('--json', 'print JSON')
    .action((opts: { home: string; from: string; json?: boolean }) => {
      const summary = restoreHome(opts.home, opts.from);
      if (opts.json) printOut(`${JSON.stringify(summary, null, 2)}\n`);
      else {
        printOut(`restored ${summary.manifest.databases.map((d) => d.file).join(', ')} into ${summary.home}; integrity ok\n`);
        if (summary.previous) printOut(`the files it replaced are in ${summary.previous}\n`);
      }
    });
}
