/**
 * Prints the hardening suite as one table: scenario → result → outcome. The outcome column is
 * what each test reported with `annotate()` (the code it saw, the numbers it measured), or the
 * reason a long scenario was skipped, so the table reads as the suite's findings.
 */
import type { Reporter, TestModule } from 'vitest/node';

function cell(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat.padEnd(width);
}

export default class HardeningTableReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows: Array<[string, string, string]> = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        const notes = test.annotations().map((a) => a.message);
        if (result.state === 'skipped' && result.note) notes.push(result.note);
        if (result.state === 'failed') notes.push(result.errors[0]?.message ?? 'failed');
        const file = module.moduleId.split('/').pop()?.replace(/\.test\.ts$/, '') ?? '';
        rows.push([`${file}: ${test.name}`, result.state, notes.join('; ')]);
      }
    }
    const widths = [Math.min(90, Math.max(8, ...rows.map((r) => r[0].length))), 7, 100] as const;
    const line = (r: readonly [string, string, string]) => `| ${cell(r[0], widths[0])} | ${cell(r[1], widths[1])} | ${cell(r[2], widths[2])} |`;
    const out = [
      '',
      'Hardening scenarios',
      line(['scenario', 'result', 'outcome']),
      `|${'-'.repeat(widths[0] + 2)}|${'-'.repeat(widths[1] + 2)}|${'-'.repeat(widths[2] + 2)}|`,
      ...rows.map(line),
      '',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  }
}
