import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fuzzDir, removeFuzzDirs, fuzzParams, fuzzTimeout, loadsOrTypedError } from '../reliability/fuzz-support.js';
import { loadTokenizer } from './hf-tokenizer.js';

afterAll(removeFuzzDirs);

const RUNS = 120;
const TIMEOUT = fuzzTimeout(RUNS, 30_000);

/** A small WordLevel tokenizer.json in the layout the tokenizers library writes. */
function wordLevel(): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab: { '<unk>': 0, hello: 1, world: 2 }, unk_token: '<unk>' },
  };
}

const hostile = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(null, 'BPE', 'WordPiece', 'Unigram', 'ByteLevel', -1, 1e9, [], {}));
const edit = fc.record({
  path: fc.constantFrom(['model'], ['model', 'type'], ['model', 'vocab'], ['model', 'unk_token'], ['model', 'merges'], ['pre_tokenizer'], ['normalizer'], ['added_tokens'], ['decoder'], ['post_processor'], ['truncation'], ['padding']),
  value: hostile,
});

describe('tokenizer.json fuzzing: loads (and encodes) or raises our typed error', () => {
  it('a real tokenizer.json with fields replaced, plus arbitrary text files', async () => {
    const root = fuzzDir('tok');
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
          const t = wordLevel();
          for (const { path, value } of edits) {
            let o = t as Record<string, unknown>;
            for (const k of path.slice(0, -1)) o = (typeof o[k] === 'object' && o[k] !== null ? o[k] : (o[k] = {})) as Record<string, unknown>;
            o[path.at(-1)!] = value;
          }
          return JSON.stringify(t);
        }), fc.string({ maxLength: 40 })),
        fc.option(fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), { nil: undefined }),
        fc.string({ maxLength: 20 }),
        async (tokenizerJson, tokenizerConfig, text) => {
          const d = join(root, `c${n++}`);
          mkdirSync(d);
          writeFileSync(join(d, 'tokenizer.json'), tokenizerJson);
          if (tokenizerConfig !== undefined) writeFileSync(join(d, 'tokenizer_config.json'), tokenizerConfig);
          const r = await loadsOrTypedError(() => loadTokenizer(d));
          if (r.ok) {
            const enc = await loadsOrTypedError(() => r.value.encode(text));
            if (enc.ok) expect(enc.value.every((id) => Number.isInteger(id))).toBe(true);
          }
        },
      ),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);
});
