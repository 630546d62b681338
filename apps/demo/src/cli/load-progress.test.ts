import { TensorReadMeter } from '@lowrank/models';
import { describe, expect, it } from 'vitest';
import { LoadProgress } from './load-progress.js';

function capture() {
  const lines: string[] = [];
  return { lines, out: { write: (t: string) => lines.push(...t.split('\n').filter((l) => l !== '')) } };
}

describe('LoadProgress', () => {
  it('plain mode: shards opened, throttled MB read with MB/s, quantized layers n/N (always the last), first step time', () => {
    let now = 0;
    const { lines, out } = capture();
    const p = new LoadProgress('plain', out, { now: () => now, intervalMs: 1000 });
    const meter = new TensorReadMeter();
    p.opened('/m', 3, 2_200_000_000, 'bf16');
    p.watch(meter);
    now = 500;
    meter.record({ file: 'a', tensor: 't0', bytes: 100e6 }); // opened 500 ms ago: throttled
    now = 2000;
    meter.record({ file: 'a', tensor: 't1', bytes: 300e6 }); // due: 400 MB in 2 s
    now = 2100;
    p.quantized({ layer: 'l.0', index: 1, total: 2, sourceBytes: 8, packedBytes: 2 }); // throttled
    p.quantized({ layer: 'l.1', index: 2, total: 2, sourceBytes: 8, packedBytes: 2 }); // last: always
    now = 4000;
    p.loaded(meter);
    meter.record({ file: 'a', tensor: 't2', bytes: 1 }); // after loaded: not watched any more
    now = 6500;
    p.firstStep();
    expect(lines).toEqual([
      'opened /m: 3 shards, 2200.0 MB of weights; base held as bf16 (0.00 s)',
      'read 400.0 MB of weights in 2 tensors (200.0 MB/s)',
      'quantized layers 2/2 (l.1); read 400.0 MB of weights in 2 tensors (190.5 MB/s)',
      'read 400.0 MB of weights in 2 tensors (100.0 MB/s)',
      'first step after 6.5 s',
    ]);
  });

  it('json mode: one load event per line with phase, seconds and figures; a preset (no shards) prints no open line', () => {
    let now = 0;
    const { lines, out } = capture();
    const p = new LoadProgress('json', out, { now: () => now, intervalMs: 0 });
    const meter = new TensorReadMeter();
    p.opened('preset', 0, 0, 'f32');
    p.opened('/m', 1, 1e6, 'nf4');
    p.watch(meter);
    now = 1000;
    meter.record({ file: 'a', tensor: 't', bytes: 5e6 });
    p.quantized({ layer: 'x', index: 1, total: 7, sourceBytes: 8, packedBytes: 2 });
    now = 3000;
    p.firstStep();
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toEqual([
      { event: 'load', phase: 'open', seconds: 0, model: '/m', shards: 1, fileMB: 1, baseDtype: 'nf4' },
      { event: 'load', phase: 'read', seconds: 1, mbRead: 5, tensors: 1, mbPerSecond: 5 },
      { event: 'load', phase: 'quantize', seconds: 1, layer: 'x', index: 1, total: 7, mbRead: 5, tensors: 1, mbPerSecond: 5 },
      { event: 'load', phase: 'first-step', seconds: 3 },
    ]);
  });

  it('minFileBytes: silent for a small checkpoint (eval and generate keep stderr empty for small models)', () => {
    const { lines, out } = capture();
    const p = new LoadProgress('plain', out, { intervalMs: 0, minFileBytes: 256e6 });
    const meter = new TensorReadMeter();
    p.opened('/small', 1, 255e6, 'bf16');
    p.watch(meter);
    meter.record({ file: 'a', tensor: 't', bytes: 5e6 });
    p.loaded(meter);
    p.firstStep();
    expect(lines).toEqual([]);
    new LoadProgress('plain', out, { minFileBytes: 256e6 }).opened('/large', 1, 256e6, 'bf16');
    expect(lines).toHaveLength(1);
  });
});
