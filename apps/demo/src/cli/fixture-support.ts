// Test helpers: tiny seeded LLaMA checkpoints on disk (bf16 safetensors + WordLevel tokenizer.json) and word data for them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeLlamaFixture, type LlamaFixtureOptions } from '@lowrank/models';

export const TINY_LLAMA: LlamaFixtureOptions = { layers: 2, hidden: 32, intermediate: 64, heads: 4, kvHeads: 2, vocab: 64, maxPositions: 64, dtype: 'bf16', seed: 3 };

/** Writes a fixture model directory under `dir` and returns its path. */
export async function writeTinyLlama(dir: string, name: string, opts: Partial<LlamaFixtureOptions> = {}): Promise<string> {
  const path = join(dir, name);
  await writeLlamaFixture(path, { ...TINY_LLAMA, ...opts });
  return path;
}

/** `{"text"}` rows of the fixture vocabulary's words (`w0 … wN`), seeded arithmetic runs. */
export function writeWordData(dir: string, rows = 40, vocabWords = 60, seed = 1): string {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const n = 6 + Math.floor(rand() * 9);
    const start = Math.floor(rand() * vocabWords);
    lines.push(JSON.stringify({ text: Array.from({ length: n }, (_, k) => `w${(start + 3 * k) % vocabWords}`).join(' ') }));
  }
  const file = join(dir, 'words.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}
