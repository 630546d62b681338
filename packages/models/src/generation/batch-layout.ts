import type { HostTensor } from '@lowrank/core';

/**
 * Prompts of different lengths, left-padded so that every row's last prompt
 * token sits in slot N-1 (N the longest prompt): row b's prompt fills slots
 * starts[b]..N-1, and every row writes its new tokens at the same slot.
 */
export class BatchLayout {
  readonly batch: number;
  /** Slots the prompts occupy (the longest prompt). */
  readonly promptSlots: number;
  readonly starts: Int32Array;

  constructor(readonly prompts: readonly (readonly number[])[]) {
    this.batch = prompts.length;
    this.promptSlots = Math.max(...prompts.map((p) => p.length));
    this.starts = Int32Array.from(prompts, (p) => this.promptSlots - p.length);
  }

  /** The prompt token in a slot (0 for padding and past the prompts). */
  tokenAt(row: number, slot: number): number {
    const j = slot - this.starts[row];
    return j >= 0 ? (this.prompts[row][j] ?? 0) : 0;
  }

  /** Feeds for S consecutive slots from `first`: ids [B, S], positions [S] or [B, S], slots [S], starts [B]. */
  feeds(first: number, S: number, ids: (row: number, slot: number) => number): Record<string, HostTensor> {
    const B = this.batch;
    const idData = new Int32Array(B * S);
    const posData = new Int32Array(B * S);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < S; j++) {
        idData[b * S + j] = ids(b, first + j);
        // Padding slots take position 0; nothing real attends to them.
        posData[b * S + j] = Math.max(0, first + j - this.starts[b]);
      }
    }
    return {
      input_ids: { shape: [B, S], dtype: 'i32', data: idData },
      positions: { shape: B === 1 ? [S] : [B, S], dtype: 'i32', data: posData },
      slots: { shape: [S], dtype: 'i32', data: Int32Array.from({ length: S }, (_, j) => first + j) },
      starts: { shape: [B], dtype: 'i32', data: this.starts },
    };
  }
}

/**
 * First slots of the prefill chunks of length P over N prompt slots: 0, P, 2P, ...;
 * the last chunk ends at N and may overlap the one before (its tokens are
 * recomputed and rewrite the same keys and values), so no chunk runs past the prompt
 * unless the whole prompt is shorter than one chunk.
 */
export function chunkStarts(N: number, P: number): number[] {
  if (N <= P) return [0];
  const out: number[] = [];
  for (let start = 0; start + P < N; start += P) out.push(start);
  out.push(N - P);
  return out;
}

/** Cache length buckets: powers of two from `smallest`, the last one `maxLength`. */
export function lengthBuckets(smallest: number, maxLength: number): number[] {
  const out: number[] = [];
  let b = 1;
  while (b < Math.min(smallest, maxLength)) b *= 2;
  for (; b < maxLength; b *= 2) out.push(b);
  out.push(maxLength);
  return out;
}
