import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel } from '../architectures/index.js';
import { presetConfig } from '../io/presets.js';
import { fuzzDir, removeFuzzDirs, fuzzParams, fuzzTimeout, loadsOrTypedError } from '../reliability/fuzz-support.js';
import { parseConfig, readConfig } from './index.js';
import { ConfigError } from '../errors.js';

afterAll(removeFuzzDirs);

const RUNS = 200;
const TIMEOUT = fuzzTimeout(RUNS, 30_000);

/** Values a hostile config.json puts in a field. */
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 0.5, 1e308, -0, 2 ** 31, 2 ** 53 + 1, 'silu', 'llama3', null, true, [], {}),
  fc.integer({ min: -4, max: 4096 }),
);

const presets = ['llama-tiny', 'gpt2-tiny', 'seq2seq-tiny'].map((p) => ({ ...(presetConfig(p) as unknown as Record<string, unknown>) }));

describe('config.json fuzzing: every input parses or raises our typed error', () => {
  it('arbitrary JSON values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (raw) => {
        await loadsOrTypedError(() => parseConfig(raw));
      }),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);

  it('a real config with fields replaced, removed or added; an accepted one builds a model', async () => {
    const field = fc.constantFrom(...new Set(presets.flatMap((p) => Object.keys(p))), 'rope_scaling', 'architectures', 'model_type', '__proto__');
    const edit = fc.record({ field, value: fc.option(hostileValue, { nil: undefined }) });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...presets.keys()), fc.array(edit, { minLength: 1, maxLength: 4 }), async (which, edits) => {
        const raw: Record<string, unknown> = { ...presets[which] };
        for (const e of edits) {
          if (e.value === undefined) delete raw[e.field];
          else Object.defineProperty(raw, e.field, { value: e.value, enumerable: true, writable: true, configurable: true });
        }
        const r = await loadsOrTypedError(() => parseConfig(raw));
        if (r.ok) {
          const c = r.value as unknown as Record<string, unknown>;
          // Sizes small enough to build quickly: building must not fail with a foreign error either.
          const small = ['hidden_size', 'n_embd', 'vocab_size', 'intermediate_size', 'num_hidden_layers', 'n_layer'].every((k) => c[k] === undefined || (c[k] as number) <= 4096);
          if (small) await loadsOrTypedError(() => buildModel(r.value));
        }
      }),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);

  it('arbitrary file content through readConfig', async () => {
    const dir = fuzzDir('config');
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('latin1'))), async (text) => {
        const p = join(dir, `config-${n++}.json`);
        writeFileSync(p, text, 'latin1');
        await loadsOrTypedError(() => readConfig(p));
      }),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);

  it('size fields must be positive integers: a fractional or absurd size is a ConfigError naming the field', () => {
    for (const [field, value] of [['hidden_size', 64.5], ['vocab_size', -3], ['num_hidden_layers', 0], ['intermediate_size', 2 ** 40]] as const) {
      const err = (() => {
        try {
          parseConfig({ ...presets[0], [field]: value });
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).field).toBe(field);
    }
  });
});
