import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMutations, fuzzDir, removeFuzzDirs, fuzzParams, fuzzTimeout, loadsOrTypedError, type Mutation } from '../reliability/fuzz-support.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadAdapter, saveAdapter } from './adapter-io.js';

afterAll(removeFuzzDirs);

const RUNS = 120;
const TIMEOUT = fuzzTimeout(RUNS, 30_000);
const A = 'model.layers.0.self_attn.q_proj.lora_A.weight';
const B = 'model.layers.0.self_attn.q_proj.lora_B.weight';

const fieldValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(0, -1, 2.5, 1e308, 'LORA', 'LOHA', null, ['q_proj'], { 'q_proj': 4 }));
const configEdit = fc.record({
  field: fc.constantFrom('peft_type', 'r', 'lora_alpha', 'target_modules', 'rank_pattern', 'alpha_pattern', 'use_dora', 'bias', 'lora_dropout', '__proto__', 'init_lora_weights'),
  value: fc.option(fieldValue, { nil: undefined }),
});
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(2048), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(2048) }),
  fc.record({ kind: fc.constant('u64' as const), at: fc.constant(0), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
);

describe('adapter_config.json and adapter weights fuzzing', () => {
  it('a real adapter with a damaged config and/or weights loads or raises our typed error', async () => {
    const root = fuzzDir('adapter');
    const base = join(root, 'base');
    await saveAdapter(base, { r: 2, lora_alpha: 4, target_modules: ['q_proj'] }, {
      [A]: { shape: [2, 8], dtype: 'f32', data: new Float32Array(16).fill(0.5) },
      [B]: { shape: [8, 2], dtype: 'f32', data: new Float32Array(16).fill(-0.5) },
    });
    const config = JSON.parse(readFileSync(join(base, ADAPTER_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
    const weights = new Uint8Array(readFileSync(join(base, ADAPTER_WEIGHTS_FILE)));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.array(configEdit, { maxLength: 4 }).map((e) => ({ edits: e, raw: undefined as string | undefined })), fc.string({ maxLength: 30 }).map((raw) => ({ edits: [], raw }))),
        fc.array(mutation, { maxLength: 2 }),
        async ({ edits, raw }, mutations) => {
          const d = join(root, `c${n++}`);
          mkdirSync(d);
          const c: Record<string, unknown> = { ...config };
          for (const e of edits) {
            if (e.value === undefined) delete c[e.field];
            else Object.defineProperty(c, e.field, { value: e.value, enumerable: true, writable: true, configurable: true });
          }
          writeFileSync(join(d, ADAPTER_CONFIG_FILE), raw ?? JSON.stringify(c));
          writeFileSync(join(d, ADAPTER_WEIGHTS_FILE), applyMutations(weights, mutations));
          const r = await loadsOrTypedError(() => loadAdapter(d));
          if (r.ok) {
            expect(r.value.config.peft_type).toBe('LORA');
            expect(Number.isInteger(r.value.config.r) && r.value.config.r > 0).toBe(true);
          }
        },
      ),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);
});
