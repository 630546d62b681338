import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { LowrankError } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { findLatestCheckpoint, readRunCheckpoint, saveRunCheckpoint } from './run-checkpoint.js';
import { stateAt } from './save-kill.child.js';
import { tempDir } from './test-support.js';

const envRuns = Number(process.env.LOWRANK_FUZZ_RUNS);
const RUNS = Number.isInteger(envRuns) && envRuns > 0 ? envRuns : 150;
const SEED = Number.isInteger(Number(process.env.LOWRANK_FUZZ_SEED)) ? Number(process.env.LOWRANK_FUZZ_SEED) : 20261129;

const hostile = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(-1, 0.5, 2 ** 60, 'f64', 'f32', 'x', null, [], {}));
const edit = fc.record({
  path: fc.constantFrom(['format'], ['step'], ['seed'], ['tensorBytes'], ['checksum'], ['tensors'], ['hooks'], ['run'], ['data'], ['tensors', '*', 'shape'], ['tensors', '*', 'offset'], ['tensors', '*', 'bytes'], ['tensors', '*', 'stored'], ['tensors', '*', 'dtype'], ['tensors', '*']),
  value: hostile,
});

describe('trainer checkpoint (trainer_state.json) fuzzing: loads or raises our typed error', () => {
  it('a real checkpoint with edited state fields, or arbitrary text; resume search never crashes', async () => {
    const base = tempDir('ckpt-fuzz');
    const dir = await saveRunCheckpoint(base, stateAt(3), { run: {}, writeAdapter: async () => undefined });
    const original = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as Record<string, unknown>;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
        const f = structuredClone(original) as Record<string, unknown>;
        for (const { path, value } of edits) {
          if (path[1] === '*') {
            const tensors = f.tensors as Record<string, Record<string, unknown>> | null;
            if (typeof tensors !== 'object' || tensors === null) continue;
            const first = Object.keys(tensors)[0];
            if (first === undefined) continue;
            if (path.length === 2) tensors[first] = value as Record<string, unknown>;
            else if (typeof tensors[first] === 'object' && tensors[first] !== null) tensors[first][path[2]!] = value;
          } else f[path[0]] = value;
        }
        return JSON.stringify(f);
      }), fc.string({ maxLength: 40 })), async (text) => {
        const out = join(base, `c${n++}`);
        const root = join(out, 'checkpoints');
        mkdirSync(root, { recursive: true });
        cpSync(dir, join(root, 'step-000003'), { recursive: true });
        writeFileSync(join(root, 'step-000003', 'trainer_state.json'), text);
        try {
          await readRunCheckpoint(join(root, 'step-000003'));
        } catch (e) {
          if (!(e instanceof LowrankError)) throw new Error(`a non-lowrank error escaped: ${e instanceof Error ? e.stack : String(e)}`);
        }
        // The resume search skips a broken checkpoint instead of crashing.
        const found = await findLatestCheckpoint(out);
        if (found) expect(found.state.step).toBeGreaterThanOrEqual(0);
        expect(readdirSync(root)).toContain('step-000003');
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true, timeout: 5_000 },
    );
    rmSync(base, { recursive: true, force: true });
  }, Math.max(30_000, RUNS * 200));
});
