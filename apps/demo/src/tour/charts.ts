// Report charts: Vega-Lite specifications compiled to Vega and rendered to SVG in Node (no browser, no canvas).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const WIDTH = 520;
const HEIGHT = 260;

export function lossCurvesSpec(curves: Readonly<Record<string, readonly number[]>>): TopLevelSpec {
  const values = Object.entries(curves).flatMap(([method, losses]) => losses.map((loss, i) => ({ method, step: i + 1, loss })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Training loss per method',
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', title: 'training loss', scale: { zero: false } },
      color: { field: 'method', type: 'nominal' },
    },
  };
}

export interface PolicyPoint {
  readonly policy: string;
  readonly plannedPeakMB: number;
  readonly measuredPeakMB: number;
  readonly stepMs: number;
}

export function policyMemorySpec(points: readonly PolicyPoint[]): TopLevelSpec {
  const values = points.flatMap((p) => [
    { policy: p.policy, kind: 'planned peak', MB: p.plannedPeakMB },
    { policy: p.policy, kind: 'measured peak', MB: p.measuredPeakMB },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Peak memory per checkpoint policy (LoRA)',
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: 'policy', type: 'nominal', title: 'checkpoint policy', sort: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'kind', type: 'nominal' },
      y: { field: 'MB', type: 'quantitative', title: 'MB' },
      color: { field: 'kind', type: 'nominal' },
    },
  };
}

export function policyStepTimeSpec(points: readonly PolicyPoint[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Step time per checkpoint policy (LoRA)',
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ policy: p.policy, ms: p.stepMs })) },
    mark: 'bar',
    encoding: {
      x: { field: 'policy', type: 'nominal', title: 'checkpoint policy', sort: null, axis: { labelAngle: 0 } },
      y: { field: 'ms', type: 'quantitative', title: 'ms per step' },
    },
  };
}

/** Exact-match accuracy on the held-out prompts before and after fine-tuning, one pair of bars per method. */
export function accuracyByMethodSpec(rows: readonly { method: string; accuracyBefore: number; accuracyAfter: number }[]): TopLevelSpec {
  const values = rows.flatMap((r) => [
    { method: r.method, when: 'before (base)', accuracy: r.accuracyBefore },
    { method: r.method, when: 'after fine-tuning', accuracy: r.accuracyAfter },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Exact match on held-out prompts (greedy decoding)',
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'method', type: 'nominal', sort: null, title: null },
      yOffset: { field: 'when', type: 'nominal', sort: ['before (base)', 'after fine-tuning'] },
      x: { field: 'accuracy', type: 'quantitative', title: 'exact-match accuracy', scale: { domain: [0, 1] } },
      color: { field: 'when', type: 'nominal', sort: ['before (base)', 'after fine-tuning'], title: null },
    },
  };
}

/** Exact-match accuracy against the rank used at inference (DyLoRA: one adapter, evaluated at several ranks). */
export function rankAccuracySpec(points: readonly { rank: number; accuracy: number }[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'DyLoRA: exact match by rank',
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ rank: p.rank, accuracy: p.accuracy })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'rank', type: 'ordinal', title: 'rank at inference', axis: { labelAngle: 0 } },
      y: { field: 'accuracy', type: 'quantitative', title: 'exact-match accuracy', scale: { domain: [0, 1] } },
    },
  };
}

/** Held-out loss against the rank used at inference (DyLoRA: one adapter, evaluated at several ranks). */
export function rankSweepSpec(points: readonly { rank: number; heldOut: number }[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'DyLoRA rank sweep',
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ rank: p.rank, heldOut: p.heldOut })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'rank', type: 'ordinal', title: 'rank at inference', axis: { labelAngle: 0 } },
      y: { field: 'heldOut', type: 'quantitative', title: 'held-out loss', scale: { zero: false } },
    },
  };
}

/** Rank kept by each adapted layer after pruning (AdaLoRA). */
export function rankDistributionSpec(ranks: Readonly<Record<string, number>>): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Per-layer rank after AdaLoRA pruning',
    width: WIDTH,
    height: HEIGHT,
    // "model.layers.0.self_attn.q_proj" -> "L0 q_proj": short enough to read under the bars.
    data: { values: Object.entries(ranks).map(([layer, rank]) => ({ layer: layer.replace(/^(?:.*\.)?layers\.(\d+)\.(?:\w+)\./, 'L$1 '), rank })) },
    mark: 'bar',
    encoding: {
      x: { field: 'layer', type: 'nominal', sort: null, axis: { labelAngle: -60 } },
      y: { field: 'rank', type: 'quantitative' },
    },
  };
}
