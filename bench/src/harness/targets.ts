import { relativeDifference } from './stats.js';
import { fx, markdownTable, mb, pct, targetsTable, type Target } from './report.js';
import type { ParticipantRun, Row } from './summary.js';

const find = (rows: readonly Row[], impl: Row['implementation'], method: Row['method'] = 'lora', policy = 'none') =>
  rows.find((r) => r.implementation === impl && r.method === method && r.policy === policy && r.api === 'core-graph');

/** Issue 11's targets, each with the figure measured in this run. */
export function targetList(rows: readonly Row[], runs: readonly ParticipantRun[]): Target[] {
  const lora = find(rows, 'lowrank-cpu');
  const torch = find(rows, 'pytorch');
  const wasm = find(rows, 'tfjs-wasm');
  const dora = find(rows, 'lowrank-cpu', 'dora');
  const qlora = find(rows, 'lowrank-cpu', 'qlora');
  const sqrt = find(rows, 'lowrank-cpu', 'lora', 'sqrt');
  const t: Target[] = [];
  const ratio = (a?: Row, b?: Row) => (a && b ? b.stepMs / a.stepMs : Number.NaN);
  const vsTorch = ratio(lora, torch);
  // The fastest samples are the least disturbed on a shared machine; shown beside the medians the status uses.
  const vsTorchBest = lora && torch ? torch.bestMs / lora.bestMs : Number.NaN;
  t.push({
    what: 'LoRA tokens/s, lowrank cpu vs PyTorch',
    goal: '≥ 1.25×',
    measured: `${fx(vsTorch)}× (medians); ${fx(vsTorchBest)}× (best step vs best step)`,
    met: Number.isFinite(vsTorch) ? vsTorch >= 1.25 : undefined,
  });
  const vsWasm = ratio(lora, wasm);
  t.push({ what: 'LoRA tokens/s, lowrank cpu vs tfjs-backend-wasm', goal: '≥ 10×', measured: `${fx(vsWasm, 1)}×`, met: Number.isFinite(vsWasm) ? vsWasm >= 10 : undefined });
  t.push({ what: 'model FLOP utilisation (LoRA step)', goal: '≥ 50% of the MatMul ceiling', measured: lora ? pct(lora.mfu) : 'n/a', met: lora ? lora.mfu >= 0.5 : undefined });
  const plannedOf = (row?: Row) => runs.find((r) => r.spec.name === row?.name)?.init?.planned?.activationPeakBytes ?? Number.NaN;
  if (sqrt && lora) {
    const planned = plannedOf(sqrt) / plannedOf(lora);
    const measured = sqrt.stepMemoryBytes / lora.stepMemoryBytes;
    const time = sqrt.stepMs / lora.stepMs;
    t.push({
      what: '`sqrt` checkpointing vs `none`',
      goal: '≤ 40% activation memory, ≤ 1.35× step time',
      measured: `planned activations ${pct(planned)}; measured step memory ${pct(measured)}, peak RSS ${fx(sqrt.peakRssBytes / lora.peakRssBytes)}×; ${fx(time)}× time`,
      met: planned <= 0.4 && time <= 1.35,
    });
  } else {
    t.push({ what: '`sqrt` checkpointing vs `none`', goal: '≤ 40% activation memory, ≤ 1.35× step time', measured: 'not run (see below)', met: undefined });
  }
  const q = qlora && lora ? qlora.stepMs / lora.stepMs : Number.NaN;
  t.push({ what: 'QLoRA step time vs LoRA', goal: '≤ 1.3×', measured: `${fx(q)}×`, met: Number.isFinite(q) ? q <= 1.3 : undefined });
  const d = dora && lora ? dora.stepMs / lora.stepMs : Number.NaN;
  t.push({ what: 'DoRA step time vs LoRA', goal: '≤ 1.25×', measured: `${fx(d)}×`, met: Number.isFinite(d) ? d <= 1.25 : undefined });
  return t;
}

export function buildTargets(rows: readonly Row[], runs: readonly ParticipantRun[]): string {
  return targetsTable(targetList(rows, runs));
}

/** QLoRA's storage and speed, DoRA's overhead, both relative to LoRA on the same backend. */
export function variantLines(rows: readonly Row[], runs: readonly ParticipantRun[], reference: { loss: number }): string[] {
  const lora = find(rows, 'lowrank-cpu');
  const out: string[] = [];
  const qRun = runs.find((r) => r.spec.implementation === 'lowrank-cpu' && r.spec.method === 'qlora' && r.init);
  const qRow = find(rows, 'lowrank-cpu', 'qlora');
  if (qRun?.init && qRow && lora) {
    const bits = qRun.init.quantizedBits;
    out.push(
      `- QLoRA (NF4, block 64, double-quantized absmax): ${bits ? `${fx(bits.bitsPerParam, 3)} bits per base parameter over the ${(bits.params / 1e6).toFixed(1)}M quantized linear weights (${mb(bits.bytes)} MB kept)` : 'bits not reported'}; ` +
        `step time ${fx(qRow.stepMs / lora.stepMs)}× LoRA's; first loss ${qRow.loss.toFixed(5)} vs the f32 base's ${reference.loss.toFixed(5)} (rel. ${relativeDifference(qRow.loss, reference.loss).toExponential(1)}, the quantization error).`,
    );
  }
  const dRow = find(rows, 'lowrank-cpu', 'dora');
  if (dRow && lora) out.push(`- DoRA overhead over LoRA: step time ${fx(dRow.stepMs / lora.stepMs)}×, peak RSS ${mb(dRow.peakRssBytes)} vs ${mb(lora.peakRssBytes)} MB.`);
  return out;
}

/** Checkpoint policies of the LoRA step: time against memory. */
export function policyTable(rows: readonly Row[], runs: readonly ParticipantRun[]): string {
  const none = find(rows, 'lowrank-cpu');
  const policyRows = rows.filter((r) => r.implementation === 'lowrank-cpu' && r.method === 'lora' && r.api === 'core-graph');
  const table = markdownTable(
    [
      'checkpoint policy',
      'step ms',
      'time vs none',
      'planned activation peak MB',
      'planned vs none',
      'recomputed blocks (ONNX nodes)',
      'peak RSS MB',
      'step memory MB (peak − RSS before the first step)',
      'measured vs none',
    ],
    policyRows.map((r) => {
      const init = runs.find((x) => x.spec.name === r.name)?.init;
      const planned = init?.planned?.activationPeakBytes ?? Number.NaN;
      const plannedNone = runs.find((x) => x.spec.name === none?.name)?.init?.planned?.activationPeakBytes ?? Number.NaN;
      return [
        r.policy,
        fx(r.stepMs, 0),
        none ? `${fx(r.stepMs / none.stepMs)}×` : 'n/a',
        mb(planned),
        pct(planned / plannedNone),
        `${init?.planned?.recomputedSegments ?? 'n/a'} (${init?.report?.recomputedOnnxNodes ?? 'n/a'})`,
        mb(r.peakRssBytes),
        mb(r.stepMemoryBytes),
        none ? pct(r.stepMemoryBytes / none.stepMemoryBytes) : 'n/a',
      ];
    }),
  );
  const plannedNone = runs.find((x) => x.spec.name === none?.name)?.init?.planned?.activationPeakBytes;
  const savings = policyRows
    .filter((r) => none && r !== none && plannedNone !== undefined)
    .map((r) => {
      const planned = runs.find((x) => x.spec.name === r.name)?.init?.planned?.activationPeakBytes ?? Number.NaN;
      return `\`${r.policy}\` saves ${mb(none!.peakRssBytes - r.peakRssBytes)} MB of measured peak RSS against ${mb(plannedNone! - planned)} MB planned`;
    });
  const note = savings.length
    ? `\n\nMeasured step memory also holds what does not depend on the policy (ORT's session copy and prepacked weights, its arena, the host copy of frozen weights), so the policy's effect shows in the difference: ${savings.join('; ')}.`
    : '';
  return `Checkpoint policies (lowrank cpu, LoRA):\n\n${table}${note}`;
}
