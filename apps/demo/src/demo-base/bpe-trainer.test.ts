import { HFTokenizer } from '@lowrank/models';
import { describe, expect, it } from 'vitest';
import { byteToUnicode, countWords, tokenizerFiles, trainBpe } from './bpe-trainer.js';
import { splitFortunes } from './corpus.js';

/** The textbook algorithm, written independently: recount every pair over every word before each merge. */
function naiveMerges(words: Map<string, number>, merges: number): [string, string][] {
  let split = [...words].map(([w, n]) => ({ symbols: [...w], n }));
  const out: [string, string][] = [];
  for (let m = 0; m < merges; m++) {
    const counts = new Map<string, number>();
    for (const { symbols, n } of split) for (let i = 0; i + 1 < symbols.length; i++) counts.set(JSON.stringify([symbols[i], symbols[i + 1]]), (counts.get(JSON.stringify([symbols[i], symbols[i + 1]])) ?? 0) + n);
    const ranked = [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
    if (!ranked.length || ranked[0][1] < 2) break;
    const [a, b] = JSON.parse(ranked[0][0]) as [string, string];
    out.push([a, b]);
    split = split.map(({ symbols, n }) => {
      const next: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(symbols[i]);
      }
      return { symbols: next, n };
    });
  }
  return out;
}

const TEXTS = [
  'the cat sat on the mat, and the cat was fat.',
  'a rat and a cat: that is that! The hat is flat.',
  "there's the other cat, then the mat again; they're there.",
  'café au lait — naïve façade',
];

describe('byte-level BPE trainer', () => {
  it('maps all 256 bytes to distinct printable characters (GPT-2 table: space is Ġ)', () => {
    const table = byteToUnicode();
    expect(new Set(table).size).toBe(256);
    expect(table[32]).toBe('Ġ');
    expect(table[65]).toBe('A');
    expect(table[10]).toBe('Ċ');
  });

  it('learns the same merges, in the same order, as a from-scratch recount', () => {
    const specials = ['<pad>', '<s>', '</s>'];
    const bpe = trainBpe(TEXTS, { vocabSize: specials.length + 256 + 30, specialTokens: specials });
    const expected = naiveMerges(countWords(TEXTS), 30);
    expect(bpe.merges).toEqual(expected);
    expect(bpe.merges[0]).toEqual(['a', 't']); // cat, sat, mat, fat, rat, that, hat, flat ...
    // Ids: specials first, then the 256 bytes, then one token per new merge result.
    expect(bpe.vocab.get('<s>')).toBe(1);
    expect(bpe.vocab.get('Ġ')).toBe(3 + 32);
    expect(bpe.vocab.size).toBe(specials.length + 256 + new Set(bpe.merges.map(([a, b]) => a + b)).size);
  });

  it('writes a tokenizer.json that @huggingface/tokenizers loads, encodes with BOS and decodes losslessly', () => {
    const bpe = trainBpe(TEXTS, { vocabSize: 3 + 256 + 40, specialTokens: ['<pad>', '<s>', '</s>'] });
    const files = tokenizerFiles(bpe, { bos: '<s>', eos: '</s>', pad: '<pad>' });
    const tok = new HFTokenizer(JSON.parse(JSON.stringify(files.tokenizer)) as object, files.tokenizerConfig);
    expect([tok.bosId, tok.eosId, tok.padId]).toEqual([1, 2, 0]);
    expect(tok.vocabSize).toBe(bpe.vocab.size);
    const text = 'the cat sat on the flat mat; naïve café!';
    const ids = tok.encode(text);
    expect(ids[0]).toBe(1);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(text);
    // Frequent words became single tokens; the library applies our merges (" the" and " cat" were learned).
    expect(tok.tokenize(' the cat')).toEqual(['Ġthe', 'Ġcat']);
    // A word never seen still encodes, byte by byte where no merge applies.
    expect(tok.decode(tok.encode('zebra§', { addSpecialTokens: false }))).toBe('zebra§');
  });

  it('splits fortune files on % lines and flattens whitespace', () => {
    expect(splitFortunes('A  wise\nman said.\n%\nshort\n%\nAnother   one,\n\tindented.\n')).toEqual(['A wise man said.', 'Another one, indented.']);
  });
});
