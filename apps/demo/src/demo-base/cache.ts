// The demo base is pretrained once per (recipe, corpus, builder version) and kept under the user's cache
// directory; later runs find it by its content hash and reuse it.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '@lowrank/core';
import { readFortunes, type Corpus } from './corpus.js';
import { MANIFEST_FILE, pretrainDemoBase, type DemoBaseManifest, type PretrainProgress } from './pretrain.js';
import type { DemoBaseRecipe } from './recipe.js';

/** Bumped whenever the tokenizer trainer or the pretraining code changes what they produce. */
export const BUILDER_VERSION = 1;

/** `$XDG_CACHE_HOME/lowrank`, or `~/.cache/lowrank`. */
export function defaultCacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'lowrank');
}

/** First 16 hex digits of SHA-256 over the recipe, the builder version and every corpus text. */
export function demoBaseHash(recipe: DemoBaseRecipe, corpus: Corpus): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ recipe, builder: BUILDER_VERSION }));
  for (const t of corpus.texts) h.update(`${t}\n`);
  return h.digest('hex').slice(0, 16);
}

export interface DemoBase {
  /** The Hugging Face model directory (config.json, model.safetensors, tokenizer.json). */
  readonly dir: string;
  readonly manifest: DemoBaseManifest;
  /** True when the directory was already in the cache. */
  readonly reused: boolean;
}

export interface EnsureOptions {
  readonly recipe: DemoBaseRecipe;
  /** Where demo-base-<hash> lives (default: defaultCacheRoot()). */
  readonly cacheRoot?: string;
  readonly corpus?: Corpus;
  readonly backend: () => Promise<Backend>;
  readonly progress?: PretrainProgress & { reused?(dir: string): void; building?(dir: string): void };
}

function complete(dir: string): DemoBaseManifest | null {
  const m = join(dir, MANIFEST_FILE);
  if (!existsSync(m) || !existsSync(join(dir, 'model.safetensors')) || !existsSync(join(dir, 'tokenizer.json'))) return null;
  return JSON.parse(readFileSync(m, 'utf8')) as DemoBaseManifest;
}

/**
 * The cached base for the recipe, pretrained first when missing. The build
 * goes to a private directory that is renamed into place when complete, so an
 * interrupted or concurrent build never leaves a half-written base behind.
 */
export async function ensureDemoBase(o: EnsureOptions): Promise<DemoBase> {
  const corpus = o.corpus ?? readFortunes();
  const root = o.cacheRoot ?? defaultCacheRoot();
  const dir = join(root, `demo-base-${demoBaseHash(o.recipe, corpus)}`);
  const cached = complete(dir);
  if (cached) {
    o.progress?.reused?.(dir);
    return { dir, manifest: cached, reused: true };
  }
  o.progress?.building?.(dir);
  const work = `${dir}.building-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const backend = await o.backend();
  try {
    const manifest = await pretrainDemoBase(backend, o.recipe, corpus, work, o.progress);
    try {
      await rename(work, dir);
    } catch (e) {
      // Another process finished the same base first: keep theirs.
      if (!complete(dir)) throw e;
      await rm(work, { recursive: true, force: true });
    }
    return { dir, manifest, reused: false };
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  } finally {
    backend.dispose();
  }
}
