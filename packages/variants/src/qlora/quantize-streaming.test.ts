import { bf16BitsToNumber, f16BitsToNumber, Linear, numberToBf16Bits, numberToF16Bits, type HostTensor, type LazyHostTensor, type ParameterValue } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { WeightMismatchError } from '../errors.js';
import { randomArray, TinyNet } from '../test-support.js';
import { quantizeModel } from './quantize-model.js';
import { quantizeModelStreaming, type QuantizedLayerEvent } from './quantize-streaming.js';

// Layers of every stored kind: bf16, f16, f32, and a fan-in-fan-out (GPT-2 Conv1D) weight stored [in, out].
function layers() {
  return {
    q: new Linear(256, 192, { bias: false }),
    k: new Linear(192, 256, { bias: false }),
    v: new Linear(128, 128, { bias: true }),
    c: new Linear(64, 320, { bias: false, fanInFanOut: true }),
    lm_head: new Linear(64, 96, { bias: false }),
  };
}
const DTYPES = { q: 'bf16', k: 'f16', v: 'f32', c: 'bf16', lm_head: 'bf16' } as const;

function storedWeights(): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [i, [name, l]] of Object.entries(layers()).entries()) {
    const shape = l.fanInFanOut ? [l.inFeatures, l.outFeatures] : [l.outFeatures, l.inFeatures];
    const values = randomArray(shape, 20 + i, -0.2, 0.2).data;
    const dtype = DTYPES[name as keyof typeof DTYPES];
    const data = dtype === 'f32' ? Float32Array.from(values) : Uint16Array.from(values, dtype === 'bf16' ? numberToBf16Bits : numberToF16Bits);
    out.set(`${name}.weight`, { shape, dtype, data });
    if (l.hasBias) out.set(`${name}.bias`, { shape: [l.outFeatures], dtype: 'f32', data: Float32Array.from(randomArray([l.outFeatures], 40 + i).data) });
  }
  return out;
}

/** The same weights decoded to f32 independently (core's scalar decoders), for quantizeModel. */
function decoded(stored: Map<string, HostTensor>): Map<string, HostTensor> {
  return new Map(
    [...stored].map(([k, t]) => {
      if (t.dtype === 'f32') return [k, t];
      const decode = t.dtype === 'bf16' ? bf16BitsToNumber : f16BitsToNumber;
      return [k, { shape: t.shape, dtype: 'f32', data: Float32Array.from(t.data, decode) }];
    }),
  );
}

describe('quantizeModelStreaming', () => {
  it('from lazy 16-bit and f32 weights: the same tensors, bit for bit, as quantizeModel of the decoded values', async () => {
    const stored = storedWeights();
    for (const doubleQuant of [false, true]) {
      const expected = quantizeModel(new TinyNet(layers()), decoded(stored), { doubleQuant });
      let inFlight = 0;
      let mostInFlight = 0;
      const readsBeforeLayer: number[] = [];
      let readsStarted = 0;
      const lazy = new Map<string, ParameterValue>(
        [...stored].map(([k, t]): [string, ParameterValue] => {
          const value: LazyHostTensor = {
            shape: t.shape,
            dtype: t.dtype,
            async read() {
              readsStarted++;
              inFlight++;
              mostInFlight = Math.max(mostInFlight, inFlight);
              await new Promise((r) => setTimeout(r, 2));
              inFlight--;
              return t.data.slice();
            },
          };
          return [k, value];
        }),
      );
      const events: QuantizedLayerEvent[] = [];
      const sunk: string[] = [];
      const got = await quantizeModelStreaming(new TinyNet(layers()), lazy, {
        doubleQuant,
        onLayer: (e) => {
          events.push(e);
          readsBeforeLayer.push(readsStarted);
        },
        sink: async (name, t) => {
          sunk.push(name);
          return t;
        },
      });
      expect(got.report).toEqual(expected.report);
      expect(got.report.layers).toEqual(['q', 'k', 'v', 'c']);
      for (const [name, t] of expected.weights) {
        if (!/\.weight(\.|$)/.test(name) || name.startsWith('lm_head')) continue;
        const mine = got.weights.get(name) as HostTensor;
        expect(mine.dtype).toBe(t.dtype);
        expect(Array.from(mine.data)).toEqual(Array.from(t.data));
      }
      // Non-targets pass through untouched (still lazy, never read).
      expect(got.weights.get('lm_head.weight')).toBe(lazy.get('lm_head.weight'));
      expect(got.weights.get('v.bias')).toBe(lazy.get('v.bias'));
      expect(sunk.filter((n) => n.endsWith('.weight'))).toEqual(['q.weight', 'k.weight', 'v.weight', 'c.weight']);
      // The next weight's read starts before this layer is done; never more than one read ahead.
      expect(readsBeforeLayer).toEqual([2, 3, 4, 4]);
      expect(mostInFlight).toBe(1);
      expect(events.map((e) => [e.layer, e.index, e.total, e.sourceBytes])).toEqual([
        ['q', 1, 4, 256 * 192 * 2],
        ['k', 2, 4, 192 * 256 * 2],
        ['v', 3, 4, 128 * 128 * 4],
        ['c', 4, 4, 64 * 320 * 2],
      ]);
    }
  });

  it('checks every target before reading any: a wrong shape fails at once, naming the weight', async () => {
    const stored = storedWeights();
    let reads = 0;
    const lazy = new Map<string, ParameterValue>([...stored].map(([k, t]) => [k, { shape: k === 'c.weight' ? [320, 64] : t.shape, dtype: t.dtype, read: async () => (reads++, t.data) }]));
    await expect(quantizeModelStreaming(new TinyNet(layers()), lazy)).rejects.toThrow(WeightMismatchError);
    await expect(quantizeModelStreaming(new TinyNet(layers()), lazy)).rejects.toThrow(/c\.weight.*has shape \[320, 64\], expected \[64, 320\]/);
    expect(reads).toBe(0);
  });

  it('a failed read surfaces as the error of the call, not as an unhandled rejection', async () => {
    const stored = storedWeights();
    const lazy = new Map<string, ParameterValue>(
      [...stored].map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype, read: async () => (k === 'k.weight' ? Promise.reject(new Error('disk gone')) : t.data) }]),
    );
    await expect(quantizeModelStreaming(new TinyNet(layers()), lazy)).rejects.toThrow(/disk gone/);
  });
});
