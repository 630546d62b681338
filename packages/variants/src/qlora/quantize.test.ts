import { evaluate, Graph, Linear, NDArray, ops, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { applyAdapters } from '../apply.js';
import { initialAdapterState } from '../lora/init.js';
import { dot, doraReference, feedsOf, gradCheck, randomArray, TinyNet } from '../test-support.js';
import { quantizeModel } from './quantize-model.js';
import { dequantize4bit, encode4bit, quantize4bit } from './quantize.js';

const NF4 = ops.NF4_CODEBOOK;

describe('4-bit block quantization', () => {
  it('NF4 and FP4: values on the codebook round-trip exactly, two codes per byte, even index high', () => {
    for (const codebook of ['nf4', 'fp4'] as const) {
      const table = codebook === 'nf4' ? NF4 : ops.FP4_CODEBOOK;
      // Two blocks of 64: block 0 scaled by 2, block 1 by 0.5; code i at element i (mod 16); ±1 present so absmax is exact.
      const codesWanted = Array.from({ length: 128 }, (_, i) => (codebook === 'fp4' && i % 16 === 8 ? 0 : i % 16)); // -0 quantizes to +0
      const scales = [2, 0.5];
      const w = codesWanted.map((c, i) => Math.fround(table[c]) * scales[Math.floor(i / 64)]);
      const q = quantize4bit(w, [4, 32], { codebook });
      expect(Array.from(q.absmax!)).toEqual(scales);
      for (let i = 0; i < 128; i++) {
        const byte = q.codes[i >> 1];
        expect(i % 2 === 0 ? byte >> 4 : byte & 15).toBe(codesWanted[i]);
      }
      expect(Array.from(dequantize4bit(q))).toEqual(w);
    }
  });

  it('a value takes the nearest code; exactly on a midpoint it takes the lower one (bitsandbytes)', () => {
    for (let c = 0; c < 15; c++) {
      const mid = (Math.fround(NF4[c]) + Math.fround(NF4[c + 1])) / 2;
      expect(encode4bit(mid, 'nf4')).toBe(c);
      expect(encode4bit(mid + 1e-9, 'nf4')).toBe(c + 1);
      expect(encode4bit(mid - 1e-9, 'nf4')).toBe(c);
    }
    // FP4: sign bit 8, magnitude 1.0 is code 3, 0.25 is code 7.
    expect(encode4bit(-1, 'fp4')).toBe(11);
    expect(encode4bit(0.26, 'fp4')).toBe(7);
    expect(encode4bit(-0.001, 'fp4')).toBe(8);
  });

  it('double quantization keeps the codes and approximates absmax through the 8-bit map', () => {
    const w = randomArray([64, 64], 9).data;
    const plain = quantize4bit(w, [64, 64]);
    const dq = quantize4bit(w, [64, 64], { doubleQuant: true });
    expect(Array.from(dq.codes)).toEqual(Array.from(plain.codes));
    const a = plain.absmax!;
    const approx = dequantize4bit(dq);
    const exact = dequantize4bit(plain);
    let worst = 0;
    for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(approx[i] - exact[i]));
    expect(worst).toBeLessThan(0.02 * Math.max(...a));
    expect(worst).toBeGreaterThan(0);
  });

  it('measured storage: ≤ 4.5 bits per parameter, ≤ 4.13 with double quantization', () => {
    const layers = { a: new Linear(512, 256, { bias: false }), b: new Linear(256, 512, { bias: false }), c: new Linear(256, 256, { bias: false }) };
    const weights = new Map<string, HostTensor>();
    for (const [name, l] of Object.entries(layers)) {
      const shape = [l.outFeatures, l.inFeatures];
      weights.set(`${name}.weight`, { shape, dtype: 'f32', data: Float32Array.from(randomArray(shape, name.charCodeAt(0)).data) });
    }
    const params = 512 * 256 * 2 + 256 * 256;
    for (const doubleQuant of [false, true]) {
      const net = new TinyNet({ a: new Linear(512, 256, { bias: false }), b: new Linear(256, 512, { bias: false }), c: new Linear(256, 256, { bias: false }) });
      const { weights: q, report } = quantizeModel(net, weights, { doubleQuant });
      // Every byte of every buffer the quantized model keeps.
      const bytes = [...q.values()].reduce((s, t) => s + (t.data as Uint8Array).byteLength, 0);
      const bits = (8 * bytes) / params;
      expect(report.bitsPerParameter).toBeCloseTo(bits, 12);
      if (doubleQuant) expect(bits).toBeLessThanOrEqual(4.13);
      else expect(bits).toBeLessThanOrEqual(4.5);
      console.log(`quantized storage (doubleQuant=${doubleQuant}): ${bits.toFixed(5)} bits/param over ${params} params`);
    }
  });
});

describe('QLoRA: LoRA and DoRA over a 4-bit base', () => {
  const IN = 16;
  const OUT = 8;
  function setup(useDora: boolean, doubleQuant: boolean) {
    const net = new TinyNet({ proj: new Linear(IN, OUT) });
    const dense = new Map<string, HostTensor>([
      ['proj.weight', { shape: [OUT, IN], dtype: 'f32', data: Float32Array.from(randomArray([OUT, IN], 1).data) }],
      ['proj.bias', { shape: [OUT], dtype: 'f32', data: Float32Array.from(randomArray([OUT], 2).data) }],
    ]);
    const { weights } = quantizeModel(net, dense, { doubleQuant, include: () => true });
    applyAdapters(net, { r: 2, lora_alpha: 4, target_modules: ['proj'], use_dora: useDora, init_lora_weights: false });
    const adapter = initialAdapterState(net, weights, { seed: 2 });
    const feeds: Record<string, NDArray> = { ...feedsOf(weights), ...feedsOf(adapter), x: randomArray([3, IN], 4) };
    return { net, weights, feeds };
  }

  it('the base computes x·dequant(W)ᵀ + b; LoRA adds its delta on top', () => {
    for (const doubleQuant of [false, true]) {
      const { net, weights, feeds } = setup(false, doubleQuant);
      const w = dequantize4bit({
        shape: [OUT, IN],
        codebook: 'nf4',
        blockSize: 64,
        codes: weights.get('proj.weight')!.data as Uint8Array,
        ...(doubleQuant
          ? { nested: { codes: weights.get('proj.weight.absmax')!.data as Uint8Array, scale: weights.get('proj.weight.nested_absmax')!.data as Float32Array, offset: weights.get('proj.weight.nested_offset')!.data[0], blockSize: 256 } }
          : { absmax: weights.get('proj.weight.absmax')!.data as Float32Array }),
      });
      const g = new Graph();
      g.output('y', net.call('proj', g.input('x', [3, IN])));
      const y = evaluate(g, feeds).get('y')!.data;
      const A = feeds['proj.lora_A.weight'].data;
      const B = feeds['proj.lora_B.weight'].data;
      for (let b = 0; b < 3; b++) {
        for (let o = 0; o < OUT; o++) {
          let base = feeds['proj.bias'].data[o];
          for (let i = 0; i < IN; i++) base += feeds.x.data[b * IN + i] * w[o * IN + i];
          let delta = 0;
          for (let k = 0; k < 2; k++) {
            let ax = 0;
            for (let i = 0; i < IN; i++) ax += A[k * IN + i] * feeds.x.data[b * IN + i];
            delta += B[o * 2 + k] * ax;
          }
          expect(y[b * OUT + o]).toBeCloseTo(base + 2 * delta, 10);
        }
      }
    }
  });

  it('gradients of LoRA over NF4 match finite differences', () => {
    const { net, feeds } = setup(false, true);
    const r = gradCheck((g) => net.call('proj', g.input('x', [3, IN])), feeds, ['x', 'proj.lora_A.weight', 'proj.lora_B.weight']);
    expect(r.maxRelError).toBeLessThan(1e-7);
  });

  it('gradients of DoRA over NF4 match finite differences of the detached-norm formula on dequant(W)', () => {
    const { net, weights, feeds } = setup(true, false);
    const m = feeds['proj.lora_magnitude_vector'];
    const moved: Record<string, NDArray> = { ...feeds, 'proj.lora_magnitude_vector': NDArray.from(m.shape, Array.from(m.data, (v, i) => v * (1 + 0.05 * i))) };
    const w = dequantize4bit({ shape: [OUT, IN], codebook: 'nf4', blockSize: 64, codes: weights.get('proj.weight')!.data as Uint8Array, absmax: weights.get('proj.weight.absmax')!.data as Float32Array });
    const host = (f: Record<string, NDArray>) =>
      dot(
        doraReference(
          { x: f.x.data, w, bias: f['proj.bias'].data, a: f['proj.lora_A.weight'].data, b: f['proj.lora_B.weight'].data, m: f['proj.lora_magnitude_vector'].data, rows: 3, inF: IN, outF: OUT, r: 2, scaling: 2 },
          { a: moved['proj.lora_A.weight'].data, b: moved['proj.lora_B.weight'].data },
        ),
        f.__cotangent.data,
      );
    const wrt = ['x', 'proj.lora_A.weight', 'proj.lora_B.weight', 'proj.lora_magnitude_vector'];
    const r = gradCheck((g) => net.call('proj', g.input('x', [3, IN])), moved, wrt, { lossFn: host });
    expect(r.maxRelError).toBeLessThan(1e-7);
  });
});
