/**
 * How fast the QLoRA quantizer turns stored weights into NF4 (double quant).
 *
 *   pnpm --filter @lowrank/bench bench:quantize                 # the kernel, one core, in-memory weights
 *   pnpm --filter @lowrank/bench bench:quantize --model <dir>   # + quantizeModelStreaming over a checkpoint
 *   pnpm --filter @lowrank/bench bench:quantize --model <dir> --model-only   # its peak RSS alone
 *
 * The kernel part times quantize4bitStored on a seeded [5632, 2048] weight
 * (TinyLlama's MLP shape) per source dtype and reports MB/s of source bytes,
 * by wall clock and by this process's CPU time (the latter is what a quiet
 * machine would see when the box is shared). The model part opens the
 * checkpoint at bf16, quantizes every base linear layer as training does
 * (packed tensors appended to a spill file) and reports the wall time, the
 * time spent waiting for reads, and the process's peak RSS. Load averages are
 * printed with every figure: timings on a loaded machine are inflated.
 */
import { readFileSync } from 'node:fs';
import { numberToBf16Bits, numberToF16Bits, rng, type LazyHostTensor, type ParameterValue } from '@lowrank/core';
import { openModel, SpillFile } from '@lowrank/models';
import { quantize4bitStored, quantizeModelStreaming } from '@lowrank/variants';
import { BenchError } from './errors.js';

const MB = 1e6;
const [OUT, IN] = [5632, 2048];

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function peakRssMB(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new BenchError('/proc/self/status has no VmHWM (this bench needs Linux)');
  return (Number(m[1]) * 1024) / MB;
}

/** Weights like a trained layer's: roughly normal, std ~0.02, a few outliers. */
function seededWeight(n: number): Float32Array {
  const stream = rng.streamWord(42, 0, 0);
  return Float32Array.from({ length: n }, (_, i) => {
    const g = rng.uniformAt(stream, 3 * i) + rng.uniformAt(stream, 3 * i + 1) + rng.uniformAt(stream, 3 * i + 2) - 1.5;
    return i % 9973 === 0 ? g * 0.5 : g * 0.04;
  });
}

function timeKernel(): void {
  const values = seededWeight(OUT * IN);
  const sources = {
    bf16: Uint16Array.from(values, numberToBf16Bits),
    f16: Uint16Array.from(values, numberToF16Bits),
    f32: values,
  };
  for (const [dtype, data] of Object.entries(sources)) {
    const bytes = data.byteLength;
    const wall: number[] = [];
    const cpu: number[] = [];
    const before = loadavg();
    for (let r = 0; r < 6; r++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      quantize4bitStored({ dtype: dtype as 'bf16' | 'f16' | 'f32', data }, [OUT, IN], { doubleQuant: true });
      const c = process.cpuUsage(c0);
      if (r === 0) continue; // warm-up: the first run compiles the kernel
      wall.push(bytes / MB / ((performance.now() - t0) / 1000));
      cpu.push(bytes / MB / ((c.user + c.system) / 1e6));
    }
    const best = (xs: number[]) => Math.max(...xs).toFixed(0);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1].toFixed(0);
    console.log(
      `kernel ${dtype} [${OUT}, ${IN}] NF4+double quant: wall best ${best(wall)} / median ${median(wall)} MB/s, ` +
        `CPU-time best ${best(cpu)} / median ${median(cpu)} MB/s of ${dtype} input (load ${before} -> ${loadavg()})`,
    );
  }
}

async function timeModel(dir: string): Promise<void> {
  const before = loadavg();
  const t0 = performance.now();
  const opened = await openModel(dir, { baseDtype: 'bf16' });
  // How long the reads took: they run beside the quantizer (overlapped), so this is not all waiting.
  let readSeconds = 0;
  const timed = new Map<string, ParameterValue>(
    [...opened.weights].map(([name, v]) => {
      if (!('read' in v)) return [name, v];
      const lazy: LazyHostTensor = {
        shape: v.shape,
        dtype: v.dtype,
        read: async () => {
          const r0 = performance.now();
          const data = await v.read();
          readSeconds += (performance.now() - r0) / 1000;
          return data;
        },
      };
      return [name, lazy];
    }),
  );
  const cpu0 = process.cpuUsage();
  const spill = await SpillFile.create();
  let sourceBytes = 0;
  const q = await quantizeModelStreaming(opened.model, timed, {
    doubleQuant: true,
    sink: (_name, t) => spill.append(t),
    onLayer: (e) => (sourceBytes += e.sourceBytes),
  });
  await spill.sync();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await spill.dispose();
  console.log(
    `model ${dir}: ${q.report.layers.length} layers, ${(sourceBytes / MB).toFixed(0)} MB bf16 -> ${(q.report.bytes / MB).toFixed(0)} MB packed ` +
      `in ${seconds.toFixed(1)} s (${(sourceBytes / MB / seconds).toFixed(0)} MB/s; reads took ${readSeconds.toFixed(1)} s beside it; process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s), ` +
      `peak RSS ${peakRssMB().toFixed(0)} MB (load ${before} -> ${loadavg()})`,
  );
}

const args = process.argv.slice(2);
const modelAt = args.indexOf('--model');
if (!args.includes('--model-only')) timeKernel();
if (modelAt >= 0) {
  const dir = args[modelAt + 1];
  if (!dir) throw new BenchError('--model needs a directory with config.json and model.safetensors');
  await timeModel(dir);
}
