/** Byte-level prompts (token 256 is BOS in the bench presets' 259-token vocabulary). */
const TEXTS = [
  'The quick brown fox jumps over the lazy dog. ',
  'Once upon a time, in a land far away, ',
  'Fine-tuning with low-rank adapters keeps the base frozen; ',
  'She sells sea shells by the sea shore, and ',
  'In 1969 the first humans walked on the Moon. ',
  'To be, or not to be: that is the question. ',
  'A journey of a thousand miles begins with ',
  'Memory bandwidth bounds the decoding speed of ',
];

export function benchPrompts(batch: number): number[][] {
  return Array.from({ length: batch }, (_, i) => [256, ...new TextEncoder().encode(TEXTS[i % TEXTS.length])]);
}

/** One prompt of `tokens` tokens (BOS, then the texts repeated), for a cache that dominates the step. */
export function longBenchPrompt(tokens: number): number[] {
  const text = new TextEncoder().encode(TEXTS.join(''));
  return [256, ...Array.from({ length: tokens - 1 }, (_, i) => text[i % text.length])];
}
