import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBackend } from '../cli/runtime/backends.js';
import { loadBaseModel } from '../cli/runtime/base-model.js';
import { runCli, tempDir } from '../cli/test-support.js';
import { defaultCacheRoot, demoBaseHash, ensureDemoBase } from './cache.js';
import { readFortunes, type Corpus } from './corpus.js';
import { MANIFEST_FILE, type DemoBaseManifest } from './pretrain.js';
import { TEST_BASE, type DemoBaseRecipe } from './recipe.js';

/** A few hundred fortunes and a few steps: the whole pipeline in seconds. */
const RECIPE: DemoBaseRecipe = { ...TEST_BASE, name: 'unit', vocabSize: 512, steps: 12, warmupSteps: 2 };

function smallCorpus(): Corpus {
  const all = readFortunes();
  const texts = all.texts.slice(0, 400);
  return { texts, files: all.files, chars: texts.reduce((n, t) => n + t.length, 0) };
}

describe('the demo base model cache', () => {
  it('pretrains once into demo-base-<hash>, reuses it after, and every CLI command opens it', async () => {
    const root = tempDir('demo-cache');
    const corpus = smallCorpus();
    const messages: string[] = [];
    const progress = { reused: (d: string) => messages.push(`reused ${d}`), building: (d: string) => messages.push(`building ${d}`) };
    const first = await ensureDemoBase({ recipe: RECIPE, cacheRoot: root, corpus, backend: () => createBackend('cpu'), progress });
    expect(first.reused).toBe(false);
    expect(first.dir).toBe(join(root, `demo-base-${demoBaseHash(RECIPE, corpus)}`));
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', MANIFEST_FILE]) expect(existsSync(join(first.dir, f)), f).toBe(true);
    // Only the finished directory remains: the private build directory was renamed into place.
    expect(readdirSync(root)).toEqual([`demo-base-${demoBaseHash(RECIPE, corpus)}`]);
    const manifest = JSON.parse(readFileSync(join(first.dir, MANIFEST_FILE), 'utf8')) as DemoBaseManifest;
    expect(manifest.recipe).toEqual(RECIPE);
    expect(manifest.corpus.fortunes).toBe(400);
    expect(manifest.trainLossEnd).toBeLessThan(manifest.trainLossStart); // it learned something in 12 steps
    expect(manifest.trainLossStart).toBeGreaterThan(Math.log(512) - 0.5); // and started from chance

    const again = await ensureDemoBase({ recipe: RECIPE, cacheRoot: root, corpus, backend: () => Promise.reject(new Error('must not pretrain again')), progress });
    expect(again).toEqual({ dir: first.dir, manifest: first.manifest, reused: true });
    expect(messages).toEqual([`building ${first.dir}`, `reused ${first.dir}`]);

    // The directory is an ordinary Hugging Face model directory: the CLI loads it with its BPE tokenizer.
    const base = await loadBaseModel(first.dir);
    expect(base.tokenizer.vocabSize).toBe(512);
    expect(base.config.vocab_size).toBe(512);
    const params = [...base.weights.values()].reduce((n, t) => n + t.data.length, 0);
    expect(params).toBe(manifest.parameters);
    const gen = await runCli(['generate', '--model', first.dir, '--prompt', 'A man', '--max-new-tokens', '4', '--json']);
    expect(gen.code, gen.stderr).toBe(0);
    const r = JSON.parse(gen.stdout.trim().split('\n').pop()!) as { tokens: number[] };
    expect(r.tokens.length).toBeGreaterThan(0);
  }, 300_000);

  it('keys the cache on the recipe and the corpus', () => {
    const corpus = smallCorpus();
    const h = demoBaseHash(RECIPE, corpus);
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(demoBaseHash({ ...RECIPE, steps: 13 }, corpus)).not.toBe(h);
    expect(demoBaseHash(RECIPE, { ...corpus, texts: [...corpus.texts.slice(1), 'another fortune'] })).not.toBe(h);
    expect(demoBaseHash({ ...RECIPE }, { ...corpus })).toBe(h);
  });

  it('lives under XDG_CACHE_HOME when set, else ~/.cache', () => {
    const saved = process.env.XDG_CACHE_HOME;
    try {
      process.env.XDG_CACHE_HOME = '/x/cache';
      expect(defaultCacheRoot()).toBe('/x/cache/lowrank');
      delete process.env.XDG_CACHE_HOME;
      expect(defaultCacheRoot()).toMatch(/\/\.cache\/lowrank$/);
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });
});
