// A byte-level BPE trainer (GPT-2's scheme) that writes a Hugging Face tokenizer.json.
//
// @huggingface/tokenizers (the JS library the models package loads tokenizers with) runs tokenizers but
// cannot train one, so the merges are learned here, in the same way the Rust `tokenizers` BpeTrainer does:
//   1. pre-tokenize: split text with GPT-2's regex (words keep their leading space), then map each UTF-8
//      byte to a printable character (GPT-2's byte-to-unicode table), exactly as the ByteLevel pre-tokenizer
//      does at encode time;
//   2. start from the 256 byte symbols and repeatedly merge the most frequent adjacent pair (ties broken by
//      the pair's text, so training is deterministic) until the vocabulary reaches its size.
// The result loads with @huggingface/tokenizers as a `BPE` model with `ByteLevel` pre-tokenizer and decoder.

/** GPT-2's pre-tokenization pattern (the one `ByteLevel` with `use_regex: true` applies). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible map from bytes to printable characters (so a byte string is a plain string). */
export function byteToUnicode(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const table: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) table.push(String.fromCharCode(printable(b) ? b : 256 + extra++));
  return table;
}

export interface BpeTrainingOptions {
  /** Total vocabulary: special tokens + 256 bytes + merges. */
  readonly vocabSize: number;
  /** Special tokens, given the first ids in this order. */
  readonly specialTokens: readonly string[];
}

export interface TrainedBpe {
  /** Token text (byte-level characters) to id. */
  readonly vocab: ReadonlyMap<string, number>;
  /** Merges in the order learned: the earlier, the higher its priority at encode time. */
  readonly merges: readonly (readonly [string, string])[];
}

/** Pre-tokenized words of the texts with their counts, each word as byte-level characters. */
export function countWords(texts: Iterable<string>): Map<string, number> {
  const table = byteToUnicode();
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const piece of text.match(GPT2_SPLIT) ?? []) {
      let word = '';
      for (const b of encoder.encode(piece)) word += table[b];
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}

const pairKey = (a: string, b: string) => `${a}\u0000${b}`;

/** Learns byte-level BPE merges from the texts. */
export function trainBpe(texts: Iterable<string>, opts: BpeTrainingOptions): TrainedBpe {
  const vocab = new Map<string, number>();
  for (const s of opts.specialTokens) vocab.set(s, vocab.size);
  for (const ch of byteToUnicode()) vocab.set(ch, vocab.size);
  if (opts.vocabSize < vocab.size) throw new RangeError(`vocabSize ${opts.vocabSize} is below the ${vocab.size} special and byte tokens`);

  const counted = [...countWords(texts)];
  const words = counted.map(([w]) => [...w]);
  const freq = counted.map(([, n]) => n);
  // Pair statistics, kept up to date incrementally: count, and the words the pair occurs in.
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1) => {
    const w = words[wi];
    for (let i = 0; i + 1 < w.length; i++) {
      const k = pairKey(w[i], w[i + 1]);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * freq[wi]);
      if (sign > 0) {
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, (set = new Set()));
        set.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);

  const merges: [string, string][] = [];
  while (vocab.size < opts.vocabSize) {
    let best: string | null = null;
    let bestCount = 0;
    for (const [k, n] of pairCount) {
      if (n > bestCount || (n === bestCount && best !== null && n > 0 && k < best)) {
        best = k;
        bestCount = n;
      }
    }
    if (best === null || bestCount < 2) break; // nothing left worth merging
    const [a, b] = best.split('\u0000') as [string, string];
    const merged = a + b;
    merges.push([a, b]);
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    for (const wi of pairWords.get(best) ?? []) {
      const w = words[wi];
      addPairs(wi, -1);
      const out: string[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          out.push(merged);
          i++;
        } else out.push(w[i]);
      }
      words[wi] = out;
      addPairs(wi, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }
  return { vocab, merges };
}

export interface TokenizerFiles {
  /** tokenizer.json */
  readonly tokenizer: Record<string, unknown>;
  /** tokenizer_config.json: names the BOS, EOS and padding tokens. */
  readonly tokenizerConfig: Record<string, unknown>;
}

/**
 * The trained BPE as Hugging Face's tokenizer files. Encoding adds BOS in
 * front (LLaMA's template), so `encode(prompt)` is what generation feeds.
 */
export function tokenizerFiles(bpe: TrainedBpe, special: { bos: string; eos: string; pad: string }): TokenizerFiles {
  const id = (t: string) => {
    const i = bpe.vocab.get(t);
    if (i === undefined) throw new RangeError(`special token ${t} is not in the vocabulary`);
    return i;
  };
  const added = [special.pad, special.bos, special.eos].map((content) => ({ id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: special.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: special.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [special.bos]: { id: special.bos, ids: [id(special.bos)], tokens: [special.bos] } },
    },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(bpe.vocab),
      merges: bpe.merges.map(([a, b]) => [a, b]),
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: special.bos,
    eos_token: special.eos,
    pad_token: special.pad,
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: 1_000_000,
  };
  return { tokenizer, tokenizerConfig };
}
