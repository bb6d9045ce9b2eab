/**
 * `npm run build:agent`: the agent as a self-contained bundle a device runs with its own
 * Node ≥ 20 (no Node is shipped: none can be downloaded on this build machine).
 *
 *   dist/agent/tether-agent/
 *     tether-agent.mjs                  agent/cli.ts and every pure-JS dependency, one ESM file
 *     node_modules/node-pty/            node-pty's lib + build/Release (its native pty.node), external
 *     node_modules/bufferutil/          ws's native frame masking (prebuilt; its JS fallback elsewhere), external
 *     node_modules/node-gyp-build/      what bufferutil loads its prebuilt binary with
 *     node_modules/systeminformation/   its lib, external: only an agent off Linux loads it
 *     node_modules/node-forge/          its lib, external: only registration loads it
 *     bin/tether-agent                  POSIX sh launcher: checks the Node version, runs the bundle
 *     tether-agent.service              the systemd unit install.sh installs
 *     VERSION
 *   dist/agent/tether-agent.tar.gz      the above, what the backend serves at /agent/tether-agent.tar.gz
 *
 * The native module is built for this machine's OS, CPU and Node ABI; a device of another
 * architecture needs a bundle built on one like it.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * Pure-JS packages a running agent on Linux never loads: systeminformation (the metrics read
 * /proc there; elsewhere they import it on first use) and node-forge (only `register` builds a
 * CSR). They ship beside the bundle, not inside it: V8 keeps the bundle's whole source resident,
 * ~0.4 MB of it for each of these.
 */
const BESIDE = ['systeminformation', 'node-forge'];

/**
 * zod's every entry re-exports all its ~50 locales as a namespace (`export * as locales`), which
 * esbuild cannot tree-shake: ~300 KB of the bundle, source V8 keeps resident, for messages the
 * agent never shows. Its locales index becomes English only, the locale zod configures itself
 * with (https://github.com/colinhacks/zod/issues/6050).
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({ contents: 'export { default as en } from "./en.js";\n', loader: 'js' }));
  },
};

export interface AgentBundle {
  dir: string;
  tarball: string;
  version: string;
}

export async function buildAgentBundle(outDir = join(ROOT, 'dist', 'agent')): Promise<AgentBundle> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const staging = join(outDir, 'tether-agent.staging');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'bin'), { recursive: true });

  await build({
    stdin: { contents: "import { runAgentCli } from './agent/cli.ts';\nawait runAgentCli(process.argv);\n", resolveDir: ROOT, sourcefile: 'tether-agent-entry.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // node-pty and bufferutil load their .node files relative to their own folders, so they stay
    // real packages beside the bundle. utf-8-validate is ws's other optional addon, not installed.
    external: ['node-pty', ...BESIDE, 'bufferutil', 'utf-8-validate'],
    // Bundled CommonJS dependencies call require(); ESM has none, so give them one.
    banner: { js: "import { createRequire as __tetherCreateRequire } from 'node:module';\nconst require = __tetherCreateRequire(import.meta.url);" },
    outfile: join(staging, 'tether-agent.mjs'),
    legalComments: 'external',
    // V8 keeps the module's source for lazy compilation: dropping whitespace and dead code saves
    // ~3.5 MB of resident memory; identifiers stay, so stack traces from devices still read.
    minifyWhitespace: true,
    minifySyntax: true,
    plugins: [zodEnglishOnly],
    logLevel: 'warning',
  });

  const pty = join(ROOT, 'node_modules', 'node-pty');
  const ptyOut = join(staging, 'node_modules', 'node-pty');
  mkdirSync(join(ptyOut, 'build', 'Release'), { recursive: true });
  copyFileSync(join(pty, 'package.json'), join(ptyOut, 'package.json'));
  copyFileSync(join(pty, 'LICENSE'), join(ptyOut, 'LICENSE'));
  cpSync(join(pty, 'lib'), join(ptyOut, 'lib'), { recursive: true, filter: (src) => !/\.(test\.js|map)$/.test(src) });
  cpSync(join(pty, 'build', 'Release'), join(ptyOut, 'build', 'Release'), { recursive: true, filter: (src) => !/\.(o|d|mk)$|obj\.target|\.deps/.test(src) });
  // ws masks every frame the agent sends; bufferutil does it natively (a shell flood's largest JS cost).
  for (const name of ['bufferutil', 'node-gyp-build']) {
    cpSync(join(ROOT, 'node_modules', name), join(staging, 'node_modules', name), { recursive: true, filter: (src) => !/[/\\](src|binding\.gyp|README\.md|SECURITY\.md)$/.test(src) });
  }

  for (const name of BESIDE) {
    const from = join(ROOT, 'node_modules', name);
    const to = join(staging, 'node_modules', name);
    mkdirSync(to, { recursive: true });
    copyFileSync(join(from, 'package.json'), join(to, 'package.json'));
    copyFileSync(join(from, 'LICENSE'), join(to, 'LICENSE'));
    cpSync(join(from, 'lib'), join(to, 'lib'), { recursive: true });
  }

  copyFileSync(join(import.meta.dirname, 'tether-agent'), join(staging, 'bin', 'tether-agent'));
  chmodSync(join(staging, 'bin', 'tether-agent'), 0o755);
  copyFileSync(join(import.meta.dirname, 'tether-agent.service'), join(staging, 'tether-agent.service'));
  writeFileSync(join(staging, 'VERSION'), `${pkg.version}\n`);

  const dir = join(outDir, 'tether-agent');
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  const tarball = join(outDir, 'tether-agent.tar.gz');
  const tmp = `${tarball}.tmp`;
  execFileSync('tar', ['-czf', tmp, '-C', outDir, 'tether-agent']);
  renameSync(tmp, tarball);
  copyFileSync(join(import.meta.dirname, 'install.sh'), join(outDir, 'install.sh'));
  return { dir, tarball, version: pkg.version };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const bundle = await buildAgentBundle(process.argv[2] ? resolve(process.argv[2]) : undefined);
  process.stdout.write(`agent bundle ${bundle.version}: ${bundle.tarball}\n`);
}
