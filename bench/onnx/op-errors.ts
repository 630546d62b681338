/**
 * How much of its float32 tolerance each op uses on the CPU backend: every
 * conformance case, forward and VJP, fused composites and their expansions.
 *
 *   pnpm --filter @lowrank/backend-cpu bench:op-errors [-- --append]
 */
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { evaluate, type HostTensor } from '../../packages/core/src/index.ts';
import { allOpCases, buildCase, toHostTensor, toleranceFor } from '../../packages/conformance/src/index.ts';
import { createCpuBackend } from '../../packages/backend-cpu/src/index.ts';

interface Worst {
  ratio: number;
  abs: number;
}

async function worstPerOp(fuse: boolean): Promise<Map<string, Worst>> {
  const backend = createCpuBackend({ threads: 1, fuse });
  const out = new Map<string, Worst>();
  for (const c of allOpCases()) {
    const built = buildCase(c, 1);
    const tol = toleranceFor(c.op, false);
    const want = evaluate(built.graph, built.feeds, built.outputs);
    const exe = await backend.compile(built.graph, { outputs: built.outputs });
    const feeds: Record<string, HostTensor> = {};
    for (const [n, v] of Object.entries(built.feeds)) feeds[n] = toHostTensor(v);
    const got = await exe.run(feeds);
    exe.dispose();
    const w = out.get(c.op) ?? { ratio: 0, abs: 0 };
    for (const o of built.outputs) {
      const ref = want.get(o)!;
      if (ref.dtype !== 'f32') continue;
      ref.data.forEach((r, i) => {
        const err = Math.abs(got[o].data[i] - r);
        w.abs = Math.max(w.abs, err);
        w.ratio = Math.max(w.ratio, err / (tol.atol + tol.rtol * Math.abs(r)));
      });
    }
    out.set(c.op, w);
  }
  backend.dispose();
  return out;
}

const fused = await worstPerOp(true);
const expanded = await worstPerOp(false);
const e = (x: number) => (x === 0 ? '0' : x.toExponential(1));
const rows = [...fused.keys()].map((op) => {
  const t = toleranceFor(op, false);
  const f = fused.get(op)!;
  const x = expanded.get(op)!;
  return `| ${op} | ${e(t.rtol)} / ${e(t.atol)} | ${f.ratio.toFixed(3)} | ${x.ratio.toFixed(3)} | ${e(Math.max(f.abs, x.abs))} |`;
});
const section = [
  `## ONNX Runtime CPU backend: float32 error per op against the float64 reference (${new Date().toISOString().slice(0, 10)})`,
  '',
  'Command: `pnpm --filter @lowrank/backend-cpu bench:op-errors`. Every conformance case (seed 1), forward value and VJP. ' +
    'Tolerance: the conformance table (|got - want| <= atol + rtol·|want|); "used" is the worst error as a fraction of that bound (1 = at the limit). ' +
    'Integer and bool outputs are exact (not listed). Fused: composites on ORT kernels (LayerNormalization, SimplifiedLayerNormalization, Gelu/FastGelu, SoftmaxCrossEntropyLoss, MatMulBnb4); expanded: lowered through their primitive expansion. ' +
    "The two columns agree when a composite's worst error is in its VJP, which autodiff builds from the expansion in both cases.",
  '',
  '| op | rtol / atol | used (fused) | used (expanded) | max abs error |',
  '|---|---|---|---|---|',
  ...rows,
  '',
].join('\n');
console.log(section);
if (process.argv.includes('--append')) appendFileSync(fileURLToPath(new URL('../RESULTS.md', import.meta.url)), `\n${section}`);
