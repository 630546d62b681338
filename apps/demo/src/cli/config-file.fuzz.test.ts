import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LowrankError } from '@lowrank/core';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ALL_OPTION_NAMES, TRAIN_OPTIONS } from './command-options.js';
import { readConfigFile } from './config-file.js';
import { resolveOptions } from './option-spec.js';

// Same conventions as @lowrank/models' fuzz suites: fixed seed, bounded runs, LOWRANK_FUZZ_RUNS for a long mode.
const envRuns = Number(process.env.LOWRANK_FUZZ_RUNS);
const RUNS = Number.isInteger(envRuns) && envRuns > 0 ? envRuns : 200;
const SEED = Number.isInteger(Number(process.env.LOWRANK_FUZZ_SEED)) ? Number(process.env.LOWRANK_FUZZ_SEED) : 20261129;
const TIMEOUT = Math.max(30_000, RUNS * 150);

/** A config file is read and its options resolved, as `lowrank train --config` does; only our errors may escape. */
async function loadAndResolve(path: string): Promise<void> {
  try {
    const values = await readConfigFile(path, ALL_OPTION_NAMES);
    resolveOptions(TRAIN_OPTIONS, { model: 'llama-tiny', data: 'x.jsonl' }, values, path);
  } catch (e) {
    if (!(e instanceof LowrankError)) throw new Error(`a non-lowrank error escaped: ${e instanceof Error ? e.stack : String(e)}`);
  }
}

const optionName = fc.oneof(fc.constantFrom(...ALL_OPTION_NAMES), fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'toString'));
const optionValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('every:0', 'budget:1e999GB', 'sqrt', -1, 1e308, 'cpu', 'NaN', '', '1.5'));

describe('CLI config file fuzzing (JSON and YAML): loads or raises our typed error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lowrank-fuzz-cli-'));
  let n = 0;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('mappings of known and unknown options with hostile values, as JSON and as YAML', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(optionName, optionValue, { maxKeys: 6 }), fc.boolean(), async (obj, asYaml) => {
        const p = join(dir, `c${n++}.${asYaml ? 'yaml' : 'json'}`);
        writeFileSync(p, asYaml ? toYaml(obj) : JSON.stringify(obj));
        await loadAndResolve(p);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true, timeout: 5_000 },
    );
  }, TIMEOUT);

  it('arbitrary text, including YAML anchors, tags and deep nesting', async () => {
    const yamlish = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom('a: &x [*x]', '!!binary AAAA', 'steps: !!int "12"', 'x: ' + '['.repeat(500), '? [a]\n: b', 'lr: .inf', 'steps: 0x10', '%YAML 1.1\n---\nsteps: 1'),
      fc.array(fc.constantFrom('a: &a [1]', 'b: [*a, *a]', 'c: [*b, *b]', 'd: [*c, *c]', 'steps: 3', '- x'), { maxLength: 6 }).map((l) => l.join('\n')),
    );
    await fc.assert(
      fc.asyncProperty(yamlish, async (text) => {
        const p = join(dir, `t${n++}.yaml`);
        writeFileSync(p, text);
        await loadAndResolve(p);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true, timeout: 5_000 },
    );
  }, TIMEOUT);

  it('a typo is refused with the list of known options (the fix)', async () => {
    const p = join(dir, 'typo.yaml');
    writeFileSync(p, 'stpes: 10\n');
    const err = await readConfigFile(p, ALL_OPTION_NAMES).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LowrankError);
    expect(String(err)).toMatch(/unknown option 'stpes'; known options: .*steps/);
  });
});
