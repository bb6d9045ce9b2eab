import { defineConfig, type Plugin } from 'vite';
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

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs, so the same build works from the backend's `/` and from an app bundle.
  base: './',
  // No React plugin: Oxc compiles JSX with the automatic runtime (no Fast Refresh in dev).
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  plugins: [cspMeta()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
  server: {
    // `npx vite --config renderer/vite.config.ts` against a running backend; same-origin for cookies.
    proxy: {
      '/api': { target: process.env.TETHER_BACKEND_URL ?? 'https://localhost:8443', changeOrigin: false, secure: false, ws: true },
    },
  },
});
