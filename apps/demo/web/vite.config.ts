import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { homedir } from 'node:os';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Connect, type Plugin } from 'vite';

const stub = fileURLToPath(new URL('./node-stub.ts', import.meta.url));

/**
 * The base model the page fine-tunes: LOWRANK_DEMO_BASE_DIR, or the newest base `npm run demo` cached
 * (recipe 'demo') under $XDG_CACHE_HOME/lowrank or ~/.cache/lowrank.
 */
function demoBaseDir(): string | null {
  if (process.env.LOWRANK_DEMO_BASE_DIR) return process.env.LOWRANK_DEMO_BASE_DIR;
  const root = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lowrank');
  if (!existsSync(root)) return null;
  const bases = readdirSync(root)
    .filter((d) => /^demo-base-[0-9a-f]+$/.test(d))
    .map((d) => join(root, d))
    .filter((d) => {
      try {
        return (JSON.parse(readFileSync(join(d, 'lowrank-demo-base.json'), 'utf8')) as { recipe?: { name?: string } }).recipe?.name === 'demo';
      } catch {
        return false;
      }
    })
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return bases[0] ?? null;
}

const FILES = new Set(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'lowrank-demo-base.json', 'generation_config.json']);

/** Serves the cached base model's files at ./demo-base/ on the dev and preview servers. */
function serveDemoBase(): Plugin {
  const handler: Connect.NextHandleFunction = (req, res: ServerResponse, next) => {
    const m = /^\/demo-base\/([^/?]+)/.exec(req.url ?? '');
    if (!m) return next();
    const dir = demoBaseDir();
    const name = normalize(decodeURIComponent(m[1]));
    if (!dir || !FILES.has(name) || !existsSync(join(dir, name))) {
      res.statusCode = 404;
      res.end(dir ? `${name} is not a file of the demo base` : 'no cached demo base: run `npm run demo` once (or set LOWRANK_DEMO_BASE_DIR)');
      return;
    }
    res.setHeader('content-type', name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    res.end(readFileSync(join(dir, name)));
  };
  return {
    name: 'lowrank-demo-base',
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}

// The page bundles the workspace packages from their TypeScript sources (the "source" export condition),
// with the Node built-ins they import for file IO replaced by browser stand-ins.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [serveDemoBase()],
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
