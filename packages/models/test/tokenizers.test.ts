import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BYTE_VOCAB_SIZE, ByteTokenizer, TokenIdError, TokenizerLoadError, loadTokenizer } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lowrank-tok-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A tiny byte-level BPE in the tokenizer.json layout the tokenizers library writes. */
function tinyBpe(): object {
  const vocab: Record<string, number> = {};
  const add = (t: string) => (vocab[t] = Object.keys(vocab).length);
  for (const t of ['<|endoftext|>', 'h', 'e', 'l', 'o', 'w', 'r', 'd', 'Ġ', 'he', 'll', 'hell', 'hello', 'Ġw', 'or']) add(t);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r'],
    },
  };
}

describe('tokenizer.json through @huggingface/tokenizers', () => {
  it('applies the BPE merges, maps special tokens and decodes back', async () => {
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyBpe()));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>', bos_token: '<|endoftext|>' }));
    const tok = await loadTokenizer(dir);
    expect(tok.vocabSize).toBe(15);
    expect(tok.eosId).toBe(0);
    expect(tok.tokenize('hello world')).toEqual(['hello', 'Ġw', 'or', 'l', 'd']);
    const ids = tok.encode('hello world');
    expect(ids).toEqual([12, 13, 14, 3, 7]);
    expect(tok.decode(ids)).toBe('hello world');
    expect(tok.decode([...ids, 0], { skipSpecialTokens: true })).toBe('hello world');
    expect(tok.encode('hello<|endoftext|>')).toEqual([12, 0]);
  });

  it('handles a LLaMA-style tokenizer: Metaspace normalizer, byte fallback, BOS from the post-processor', async () => {
    const d = await mkdtemp(join(dir, 'llama-'));
    const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    const json = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      pre_tokenizer: null,
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
      },
      decoder: {
        type: 'Sequence',
        decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: '<unk>',
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, '▁': 3, h: 4, i: 5, '▁h': 6, '▁hi': 7, '<0x21>': 8 },
        merges: ['▁ h', '▁h i'],
      },
    };
    await writeFile(join(d, 'tokenizer.json'), JSON.stringify(json));
    await writeFile(join(d, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' }));
    const tok = await loadTokenizer(d);
    expect([tok.bosId, tok.eosId]).toEqual([1, 2]);
    expect(tok.encode('hi hi!')).toEqual([1, 7, 7, 8]);
    expect(tok.encode('hi hi!', { addSpecialTokens: false })).toEqual([7, 7, 8]);
    expect(tok.decode([1, 7, 7, 8], { skipSpecialTokens: true })).toBe('hi hi!');
  });

  it('a directory without tokenizer.json, or with broken JSON, is a typed error', async () => {
    const empty = await mkdtemp(join(dir, 'none-'));
    await expect(loadTokenizer(empty)).rejects.toBeInstanceOf(TokenizerLoadError);
    await writeFile(join(empty, 'tokenizer.json'), '{"model": ');
    await expect(loadTokenizer(empty)).rejects.toBeInstanceOf(TokenizerLoadError);
  });
});

describe('byte tokenizer', () => {
  const tok = new ByteTokenizer();
  it('encodes UTF-8 bytes with optional BOS/EOS and decodes back', () => {
    const text = 'héllo, 世界!';
    const ids = tok.encode(text, { addSpecialTokens: true, addEos: true });
    expect(ids[0]).toBe(tok.bosId);
    expect(ids[ids.length - 1]).toBe(tok.eosId);
    expect(ids.slice(1, -1)).toEqual(Array.from(Buffer.from(text, 'utf8')));
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(text);
    expect(tok.decode(ids)).toBe(`<bos>${text}<eos>`);
    expect(tok.vocabSize).toBe(BYTE_VOCAB_SIZE);
    expect(() => tok.decode([BYTE_VOCAB_SIZE])).toThrow(TokenIdError);
  });
});
