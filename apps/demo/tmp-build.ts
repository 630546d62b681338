import { ensureDemoBase } from './src/demo-base/cache.js';
import { DEMO_BASE, TEST_BASE } from './src/demo-base/recipe.js';
import { createBackend } from './src/cli/runtime/backends.js';
import { loadavg } from 'node:os';
const recipe = process.argv[2] === 'test' ? TEST_BASE : DEMO_BASE;
const t0 = performance.now();
const r = await ensureDemoBase({ recipe, cacheRoot: '/tmp/lr-cache', backend: () => createBackend('cpu'), progress: {
  tokenizer: (s, v) => console.log('tokenizer', s.toFixed(1), v),
  step: (s, n, l) => { if (s % 100 === 0) console.log(s, n, l.toFixed(3), ((performance.now() - t0) / 1000).toFixed(1), loadavg()[0].toFixed(2)); },
  reused: (d) => console.log('reused', d), building: (d) => console.log('building', d) } });
console.log(r.dir, JSON.stringify(r.manifest), ((performance.now() - t0) / 1000).toFixed(1), loadavg());
