import { existsSync, readFileSync } from 'node:fs';
import { Generator } from '@lowrank/models';
import { CliOptionError } from '../errors.js';
import type { BackendName } from '../command-options.js';
import { LoadProgress, QUIET_BELOW_BYTES } from '../load-progress.js';
import { progressMode, type ProgressOutput } from '../progress.js';
import type { BaseDtypeName } from '../runtime/base-dtype.js';
import { createBackend } from '../runtime/backends.js';
import { generationPrompt } from '../runtime/chat-data.js';
import { openCommandModel } from '../runtime/command-model.js';
import { valuesWithAdapter } from '../runtime/model-with-adapter.js';
import { foldForRun } from '../runtime/fold-for-run.js';
import { asParameterRecord } from '../runtime/open-base.js';

export interface GenerateArgs {
  model: string;
  adapter?: string;
  prompt?: string;
  /** One prompt per line, generated as one batch. */
  promptsFile?: string;
  /** Render the prompt as a user turn with the model's chat template. */
  chat?: boolean;
  /** System prompt for --chat. */
  system?: string;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  /** Precision of the frozen base (default: the checkpoint's). */
  baseDtype?: BaseDtypeName;
  /** Fold the adapter into the (f32) base weights for this run: merged-model speed for one copy of each adapted weight. */
  foldAdapters?: boolean;
  backend: BackendName;
  json: boolean;
}

export interface GeneratedText {
  prompt: string;
  text: string;
  tokens: number[];
  stopReason: string;
}

/** The prompts to run: --prompt, or the non-empty lines of --prompts-file. */
function promptsOf(a: GenerateArgs): string[] {
  if ((a.prompt === undefined) === (a.promptsFile === undefined)) throw new CliOptionError('prompt', a.prompt ?? null, 'exactly one of --prompt TEXT or --prompts-file FILE');
  if (a.prompt !== undefined) return [a.prompt];
  if (!existsSync(a.promptsFile!)) throw new CliOptionError('prompts-file', a.promptsFile, 'an existing file with one prompt per line');
  const lines = readFileSync(a.promptsFile!, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new CliOptionError('prompts-file', a.promptsFile, 'a file with at least one non-empty line (one prompt per line)');
  return lines;
}

/**
 * `lowrank generate`: continues the prompt (or every line of --prompts-file,
 * as one batch) with a resident KV cache; greedy unless temperature asks to sample.
 * With several prompts, `text` joins the continuations line by line and `results` has each.
 * Prompts are read and tokenized before any weight is; load progress goes to `log` (stderr).
 */
export async function runGenerate(a: GenerateArgs, log?: ProgressOutput): Promise<GeneratedText & { results: GeneratedText[] }> {
  if (a.foldAdapters && !a.adapter) throw new CliOptionError('fold-adapters', true, 'only together with --adapter DIR (without an adapter there is nothing to fold)');
  const progress = log ? new LoadProgress(progressMode(a.json, log), log, { minFileBytes: QUIET_BELOW_BYTES }) : undefined;
  const { base, tokenizer: tok, adaptOptions, meter } = await openCommandModel(a, progress);
  const texts = promptsOf(a);
  const encoded = texts.map((prompt) => generationPrompt(tok, { ...a, prompt }));
  const stopIds = encoded[0].stopIds;
  const longest = Math.max(...encoded.map((e) => e.ids.length));
  const values = await valuesWithAdapter(base, a.adapter, adaptOptions);
  const backend = await createBackend(a.backend);
  const maxLength = Math.min(base.model.cacheLayout().maxPositions, longest + a.maxNewTokens);
  const weights = new Map(Object.entries(asParameterRecord(values)));
  const folded = a.foldAdapters ? await foldForRun(base.model, values, log) : undefined;
  const gen = await Generator.create(base.model, weights, { backend, maxLength, ...(folded ? { folded } : {}) });
  progress?.loaded(meter);
  progress?.dispose();
  const sampling = { doSample: true, temperature: a.temperature, topK: a.topK, topP: a.topP };
  const rows = await gen.generateBatch(
    encoded.map((e) => e.ids),
    {
      maxNewTokens: Math.max(1, maxLength - longest),
      seed: a.seed,
      ...(a.temperature > 0 ? sampling : {}),
      ...(stopIds.length > 0 ? { stopTokens: stopIds } : {}),
    },
  );
  gen.dispose();
  backend.dispose();
  const results = rows.map((r, i) => ({ prompt: texts[i], text: tok.decode(r.tokens, { skipSpecialTokens: true }), tokens: r.tokens, stopReason: r.stopReason }));
  return { ...results[0], text: results.map((r) => r.text).join('\n'), results };
}
