// Test support: one cache of the small test base for every test file in a run (and across runs: the
// directory name is the base's content hash, so a stale base is never reused).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../cli/runtime/backends.js';
import { ensureDemoBase, type DemoBase } from './cache.js';
import { TEST_BASE } from './recipe.js';

export const TEST_CACHE_ROOT = join(tmpdir(), 'lowrank-demo-test-cache');

/** The TEST_BASE model directory, pretrained on first use. */
export function testBase(): Promise<DemoBase> {
  return ensureDemoBase({ recipe: TEST_BASE, cacheRoot: TEST_CACHE_ROOT, backend: () => createBackend('cpu') });
}
