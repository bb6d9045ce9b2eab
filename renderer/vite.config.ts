import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type HtmlTagDescriptor, type Plugin, type Rollup } from 'vite';
import { CONSOLE_CSP_META } from '../protocol/console-csp.js';

/**
 * Writes the console's CSP into the built index.html too, so the bundle is locked down even
 * behind a server that forgets the header. Build only: the dev server injects CSS as <style>
 * tags, which this policy refuses.
 */
function cspMeta(): Plugin {
  return {
    name: 'tether-csp-meta',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CONSOLE_CSP_META }, injectTo: 'head-prepend' }],
    },
  };
}

/**
 * The page's entry (boot.ts) starts the first requests, then imports the console (main.tsx)
 * dynamically. This lists the console's chunks and stylesheet in index.html as well, so the
 * browser fetches them beside the entry instead of after it has run.
 */
function preloadConsole(): Plugin {
  return {
    name: 'tether-preload-console',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler: (_html, { bundle }) => {
        if (bundle === undefined) return [];
        const chunks = Object.values(bundle).filter((output): output is Rollup.OutputChunk => output.type === 'chunk');
        const main = chunks.find((chunk) => chunk.moduleIds.some((id) => id.endsWith('/renderer/main.tsx')));
        if (main === undefined) throw new Error('tether-preload-console: no chunk holds renderer/main.tsx');
        const scripts = new Set<string>();
        const styles = new Set<string>();
        // Vite lists what the entry imports statically itself.
        const listed = new Set(chunks.filter((chunk) => chunk.isEntry).flatMap((chunk) => chunk.imports));
        if (listed.has(main.fileName)) throw new Error('tether-preload-console: boot.ts imports a module of the console chunk, so it would wait for all of it: add the module to the boot group');
        const visit = (chunk: Rollup.OutputChunk): void => {
          if (chunk.isEntry || scripts.has(chunk.fileName)) return;
          scripts.add(chunk.fileName);
          for (const css of chunk.viteMetadata?.importedCss ?? []) styles.add(css);
          for (const name of chunk.imports) {
            const imported = bundle[name];
            if (imported?.type === 'chunk') visit(imported);
          }
        };
        visit(main);
        const link = (rel: string, file: string): HtmlTagDescriptor => ({ tag: 'link', attrs: { rel, crossorigin: true, href: `./${file}` }, injectTo: 'head' });
        return [...[...styles].map((file) => link('stylesheet', file)), ...[...scripts].filter((file) => !listed.has(file)).map((file) => link('modulepreload', file))];
      },
    },
  };
}

/**
 * Writes a Brotli and a gzip copy beside each script, stylesheet and page, which the backend
 * serves to browsers that accept them (@fastify/static `preCompressed`). The first screen's
 * 420 KB of script is ~130 KB so: fewer TLS records for the backend to encrypt on its one thread
 * and less to receive before the console can start; compressed once at build time, at the
 * highest levels, rather than per request.
 */
function precompress(): Plugin {
  return {
    name: 'tether-precompress',
    apply: 'build',
    writeBundle: {
      sequential: true,
      order: 'post',
      handler(options) {
        const outDir = options.dir;
        if (outDir === undefined) return;
        for (const entry of readdirSync(outDir, { recursive: true, withFileTypes: true })) {
          if (!entry.isFile() || !/\.(js|css|html)$/.test(entry.name)) continue;
          const file = join(entry.parentPath, entry.name);
          const data = readFileSync(file);
          writeFileSync(`${file}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }));
          writeFileSync(`${file}.gz`, gzipSync(data, { level: constants.Z_BEST_COMPRESSION }));
        }
      },
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs, so the same build works from the backend's `/` and from an app bundle.
  base: './',
  // No React plugin: Oxc compiles JSX with the automatic runtime (no Fast Refresh in dev).
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  plugins: [cspMeta(), preloadConsole(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rolldownOptions: {
      // The protocol's modules do nothing on import but build schemas: one the console's first
      // screen imports nothing from is left out of its chunk rather than built at start-up.
      treeshake: { moduleSideEffects: (id) => !/[\\/]protocol[\\/][\w-]+\.ts$/.test(id) },
      output: {
        advancedChunks: {
          groups: [
            // What the entry (boot.ts) imports stays small and apart, so it runs before the console has loaded.
            { name: 'boot', test: /[\\/]renderer[\\/](api[\\/]api-paths|api[\\/]early-fetch|fleet[\\/]fleet-pages|host[\\/]desktop-bridge)\.ts$|vite[\\/]preload-helper/, priority: 2 },
            // The console's first screen in one file: six HTTP/1.1 requests each opening a TLS connection cost more than the bytes.
            { name: 'console', test: /[\\/]renderer[\\/]main\.tsx$/, priority: 1 },
          ],
        },
      },
    },
  },
  server: {
    // `npx vite --config renderer/vite.config.ts` against a running backend; same-origin for cookies.
    proxy: {
      '/api': { target: process.env.TETHER_BACKEND_URL ?? 'https://localhost:8443', changeOrigin: false, secure: false, ws: true },
    },
  },
});
