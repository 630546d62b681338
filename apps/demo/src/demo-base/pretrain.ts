// Pretraining the demo's base model: BPE on the corpus, then every weight of a small LLaMA trained as a
// causal LM on the packed corpus; written as a Hugging Face model directory every CLI command opens.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Trainer, type Backend, type HostTensor } from '@lowrank/core';
import { createModel, HFTokenizer, parseConfig, saveModel, ShuffledBatchStream, tokenizeRow, toSequences, trainValidationSplit, evalBatches } from '@lowrank/models';
import { lmLossBuilder } from '../cli/runtime/lm-graph.js';
import { tokenizerFiles, trainBpe } from './bpe-trainer.js';
import type { Corpus } from './corpus.js';
import { modelConfigOf, SPECIAL_TOKENS, type DemoBaseRecipe } from './recipe.js';

/** Written beside the model: how it was made, for the report and for a person looking at the cache. */
export const MANIFEST_FILE = 'lowrank-demo-base.json';

export interface DemoBaseManifest {
  readonly recipe: DemoBaseRecipe;
  readonly corpus: { readonly source: string; readonly fortunes: number; readonly chars: number; readonly tokens: number };
  readonly parameters: number;
  /** Mean training loss over the first and last 5% of steps, and the held-out loss at the end (nats/token). */
  readonly trainLossStart: number;
  readonly trainLossEnd: number;
  readonly heldOutLoss: number;
  readonly tokenizerSeconds: number;
  readonly pretrainSeconds: number;
  readonly createdAt: string;
}

export interface PretrainProgress {
  tokenizer?(seconds: number, vocab: number): void;
  step?(step: number, total: number, loss: number): void;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Trains the tokenizer and the model of `recipe` on `corpus` and writes them to `dir` (which must exist). */
export async function pretrainDemoBase(backend: Backend, recipe: DemoBaseRecipe, corpus: Corpus, dir: string, progress: PretrainProgress = {}): Promise<DemoBaseManifest> {
  const t0 = performance.now();
  const bpe = trainBpe(corpus.texts, { vocabSize: recipe.vocabSize, specialTokens: [SPECIAL_TOKENS.pad, SPECIAL_TOKENS.bos, SPECIAL_TOKENS.eos] });
  const files = tokenizerFiles(bpe, SPECIAL_TOKENS);
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizer));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2) + '\n');
  const tok = new HFTokenizer(files.tokenizer, files.tokenizerConfig);
  const tokenizerSeconds = (performance.now() - t0) / 1000;
  progress.tokenizer?.(tokenizerSeconds, tok.vocabSize);

  // Each fortune is one document: <s> text </s>, packed back to back into fixed-length sequences.
  const encoder = { vocabSize: tok.vocabSize, bosId: tok.bosId, eosId: tok.eosId, encode: (t: string) => tok.encode(t, { addSpecialTokens: false }) };
  const examples = corpus.texts.map((text, i) => tokenizeRow({ kind: 'text', text, line: i + 1 }, encoder, 'fortunes'));
  const tokens = examples.reduce((n, e) => n + e.ids.length, 0);
  const { sequences } = toSequences(examples, { seqLen: recipe.seqLen, layout: 'packing', padTokenId: tok.padId ?? 0 });
  const { train, validation } = trainValidationSplit(sequences, 0.02, recipe.seed);

  const config = parseConfig(modelConfigOf(recipe), `demo base recipe '${recipe.name}'`);
  const { model, weights } = createModel(config, recipe.seed);
  model.setTrainable(true);
  const parameters: Record<string, HostTensor> = {};
  let count = 0;
  for (const [n, t] of weights) {
    parameters[n] = { shape: t.shape, dtype: 'f32', data: t.data };
    count += t.data.length;
  }
  const trainer = await Trainer.create({
    backend,
    build: lmLossBuilder(model, recipe.batchSize, recipe.seqLen, () => undefined),
    parameters,
    optimizer: { kind: 'adamw', lr: recipe.lr, weightDecay: 0.01 },
    schedule: { kind: 'cosine', warmupSteps: recipe.warmupSteps, totalSteps: recipe.steps, minLrRatio: 0.1 },
    steps: recipe.steps,
    maxGradNorm: 1,
    seed: recipe.seed,
    data: new ShuffledBatchStream(train, recipe.batchSize, recipe.seed),
  });
  try {
    const losses: number[] = [];
    trainer.subscribe((m) => {
      if (m.type !== 'step') return;
      losses.push(m.loss);
      progress.step?.(m.step, recipe.steps, m.loss);
    });
    await trainer.run();
    const heldOutLoss = (await trainer.evaluate(evalBatches(validation, recipe.batchSize))).loss;
    const trained = await trainer.trainableValues();
    const out = new Map([...weights].map(([n, t]) => [n, { shape: t.shape, dtype: 'f32' as const, data: trained[n]?.data ?? t.data }]));
    await saveModel(dir, { config, weights: out });
    const edge = Math.max(1, Math.round(losses.length * 0.05));
    const manifest: DemoBaseManifest = {
      recipe,
      corpus: { source: corpus.files.length ? `Debian fortunes (${corpus.files.length} files)` : 'fortunes', fortunes: corpus.texts.length, chars: corpus.chars, tokens },
      parameters: count,
      trainLossStart: mean(losses.slice(0, edge)),
      trainLossEnd: mean(losses.slice(-edge)),
      heldOutLoss,
      tokenizerSeconds,
      pretrainSeconds: (performance.now() - t0) / 1000,
      createdAt: new Date().toISOString(),
    };
    await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  } finally {
    trainer.dispose();
  }
}
