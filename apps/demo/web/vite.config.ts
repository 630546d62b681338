import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const stub = fileURLToPath(new URL('./node-stub.ts', import.meta.url));

// The page bundles the workspace packages from their TypeScript sources (the "source" export condition),
// with the Node built-ins they import for file IO replaced by browser stand-ins.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  resolve: {
    conditions: ['source', 'browser', 'module', 'import', 'default'],
    alias: [{ find: /^node:(fs|fs\/promises|path|os)$/, replacement: stub }],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
  },
  logLevel: 'warn',
});
