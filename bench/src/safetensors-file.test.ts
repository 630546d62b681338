import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from './safetensors-file.js';
import { BENCH_MODEL } from './config.js';
import { makeBenchBatch, makeBenchWeights } from './weights.js';

describe('bench weights file', () => {
  it('round-trips F32 and I32 tensors with an 8-aligned data section', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-st-'));
    try {
      const path = join(dir, 'w.safetensors');
      const tensors = [
        { name: 'a', shape: [2, 3], dtype: 'F32' as const, data: Float32Array.from([1, -2, 3.5, 0, 1e-8, 7]) },
        { name: 'ids', shape: [3], dtype: 'I32' as const, data: Int32Array.from([4, -1, 2 ** 30]) },
      ];
      writeSafetensors(path, tensors);
      const raw = readFileSync(path);
      const headerLength = Number(raw.readBigUInt64LE(0));
      expect((8 + headerLength) % 8).toBe(0);
      expect(raw.length).toBe(8 + headerLength + 24 + 12);
      const back = readSafetensors(path);
      expect(Array.from(back.get('a')!.data)).toEqual(Array.from(tensors[0].data));
      expect(back.get('a')!.shape).toEqual([2, 3]);
      expect(Array.from(back.get('ids')!.data)).toEqual([4, -1, 2 ** 30]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('generates the same weights for a seed, labels shifted by one token', () => {
    const small = { ...BENCH_MODEL, vocabSize: 16, hiddenSize: 8, numLayers: 1, intermediateSize: 12, seqLen: 5, batchSize: 2, loraRank: 2 };
    const a = makeBenchWeights(small, 3);
    const b = makeBenchWeights(small, 3);
    expect(a.map((t) => t.name)).toContain('model.layers.0.self_attn.o_proj.lora_B.weight');
    expect(Array.from(a[5].data)).toEqual(Array.from(b[5].data));
    const loraB = a.find((t) => t.name.endsWith('q_proj.lora_B.weight'))!;
    expect(loraB.shape).toEqual([8, 2]);
    expect(Math.max(...Array.from(loraB.data, Math.abs))).toBeGreaterThan(0); // non-zero: the check sees the adapter
    const [ids, labels] = makeBenchBatch(small, 3);
    for (let bi = 0; bi < 2; bi++) {
      for (let s = 0; s < 4; s++) expect(labels.data[bi * 5 + s]).toBe(ids.data[bi * 5 + s + 1]);
      expect(labels.data[bi * 5 + 4]).toBe(-100);
    }
  });
});
