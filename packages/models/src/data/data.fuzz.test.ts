import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fuzzDir, removeFuzzDirs, fuzzParams, fuzzTimeout, loadsOrTypedError } from '../reliability/fuzz-support.js';
import { DatasetError } from './errors.js';
import { readDatasetFile } from './load.js';
import { parseJsonl } from './rows.js';

afterAll(removeFuzzDirs);

const RUNS = 200;
const TIMEOUT = fuzzTimeout(RUNS, 30_000);

const row = fc.oneof(
  fc.record({ text: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }),
  fc.record({ prompt: fc.oneof(fc.string(), fc.integer()), completion: fc.oneof(fc.string(), fc.constant(null)) }, { requiredKeys: [] }),
  fc.record({
    input_ids: fc.oneof(fc.array(fc.oneof(fc.integer(), fc.double(), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, '1'))), fc.jsonValue({ maxDepth: 1 })),
    labels: fc.array(fc.integer({ min: -100, max: 50 }), { maxLength: 6 }),
  }, { requiredKeys: ['input_ids'] }),
  fc.jsonValue({ maxDepth: 2 }),
);
const line = fc.oneof(row.map((r) => JSON.stringify(r)), fc.string({ maxLength: 30 }), fc.constantFrom('', '   ', '{', '\u0000', '{"text": "a"}\r'));

describe('JSONL dataset fuzzing: every file parses or raises our typed error', () => {
  it('lines of hostile rows and garbage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 8 }), async (lines) => {
        const r = await loadsOrTypedError(() => parseJsonl(lines.join('\n'), 'fuzz.jsonl'));
        if (r.ok) for (const x of r.value) expect(['text', 'prompt', 'tokens']).toContain(x.kind);
      }),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);

  it('arbitrary file bytes through readDatasetFile (.jsonl and .txt)', async () => {
    const dir = fuzzDir('data');
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 120 }), fc.constantFrom('jsonl', 'txt'), async (bytes, ext) => {
        const p = join(dir, `d${n++}.${ext}`);
        writeFileSync(p, bytes);
        await loadsOrTypedError(() => readDatasetFile(p));
      }),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);

  it('an empty dataset is a DatasetError that says what a row must look like', async () => {
    const p = join(fuzzDir('empty'), 'empty.jsonl');
    writeFileSync(p, '\n\n  \n');
    const err = await readDatasetFile(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(String(err)).toMatch(/holds no example; a JSONL file needs one JSON object per line/);
  });
});
