// The web demo: the same trainMethod() as the terminal tour, on this tab's WebGPU.
import type { CheckpointPolicy, HostTensor, StepMetrics } from '@lowrank/core';
import { createWebGpuBackend } from '@lowrank/backend-webgpu';
import { Generator } from '@lowrank/models';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { makeTask } from '../src/tour/task.js';
import { cliAdapters, trainMethod, type AdapterFactory, type MethodResult } from '../src/tour/train-method.js';
import { loraDropAdapters, selectLoraDropLayers } from '../src/tour/lora-drop-demo.js';
import { adaLoraAdapters, dyLoraAdapters } from '../src/tour/variants-two.js';

type Method = 'lora' | 'dora' | 'qlora' | 'dylora' | 'adalora' | 'lora-drop';

/** The same adapter factories the terminal tour uses. */
const ADAPTERS: Record<Exclude<Method, 'lora-drop'>, AdapterFactory> = {
  lora: cliAdapters,
  dora: cliAdapters,
  qlora: cliAdapters,
  dylora: dyLoraAdapters(() => undefined),
  adalora: adaLoraAdapters(() => undefined),
};

/** What the page exposes for its browser test (and for the curious, in the console). */
interface DemoState {
  status: 'idle' | 'training' | 'trained' | 'generating' | 'done' | 'error';
  losses: number[];
  stepMs: number[];
  /** Seconds from pressing Train to the first finished step (compilation and the baseline evaluation included). */
  firstStepSeconds?: number;
  trainSeconds?: number;
  heldOutBefore?: number;
  heldOutAfter?: number;
  plannedPeakBytes?: number;
  measuredPeakBytes?: number;
  generated?: string;
  error?: string;
}

const state: DemoState = { status: 'idle', losses: [], stepMs: [] };
(globalThis as unknown as { lowrankDemo: DemoState }).lowrankDemo = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;

function setStatus(text: string, s: DemoState['status']): void {
  state.status = s;
  const el = $('status');
  el.textContent = text;
  el.className = s === 'error' ? 'error' : '';
}

const chartSpec: TopLevelSpec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  width: 520,
  height: 260,
  title: 'training loss (live)',
  padding: { left: 40, top: 5, right: 10, bottom: 5 },
  data: { name: 'losses' },
  mark: { type: 'line', point: true },
  encoding: {
    x: { field: 'step', type: 'quantitative', title: 'step', axis: { format: 'd', tickMinStep: 1 } },
    y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { zero: false }, axis: { format: '.2f' } },
  },
};

let view: vega.View | undefined;
async function resetChart(): Promise<vega.View> {
  view?.finalize();
  view = new vega.View(vega.parse(compile(chartSpec).spec), { renderer: 'svg', container: '#chart', hover: false });
  await view.runAsync();
  return view;
}

const settings = () => ({
  method: $<HTMLSelectElement>('method').value as Method,
  rank: Math.max(1, Math.round(Number($<HTMLInputElement>('rank').value) || 8)),
  policy: $<HTMLSelectElement>('policy').value as CheckpointPolicy,
  steps: Math.max(1, Math.round(Number($<HTMLInputElement>('steps').value) || 60)),
});

let trained: { result: MethodResult; values: Map<string, HostTensor> } | undefined;
const backendPromise = createWebGpuBackend();

async function train(): Promise<void> {
  const s = settings();
  $<HTMLButtonElement>('train').disabled = true;
  $<HTMLButtonElement>('gen').disabled = true;
  state.losses = [];
  state.stepMs = [];
  delete state.error;
  const started = performance.now();
  setStatus(`compiling ${s.method}, rank ${s.rank}, checkpointing ${s.policy}...`, 'training');
  const chart = await resetChart();
  const backend = await backendPromise;
  // The browser's step is smaller than the terminal's: SwiftShader and laptop GPUs alike stay responsive.
  const task = makeTask({ trainRows: 160, heldOutRows: 8, seqLen: 24, seed: 1 });
  const onStep = (m: StepMetrics, total: number) => {
    state.losses.push(m.loss);
    state.stepMs.push(m.stepMs);
    state.firstStepSeconds ??= (performance.now() - started) / 1000;
    state.measuredPeakBytes = m.measuredPeakBytes;
    if (m.plannedPeakBytes !== undefined) state.plannedPeakBytes = m.plannedPeakBytes;
    chart.insert('losses', [{ step: m.step, loss: m.loss }]);
    void chart.runAsync();
    $('planned').textContent = state.plannedPeakBytes !== undefined ? mb(state.plannedPeakBytes) : '-';
    $('measured').textContent = mb(m.measuredPeakBytes);
    $('current').textContent = mb(backend.memoryStats().currentBytes);
    setStatus(`step ${m.step}/${total}: loss ${m.loss.toFixed(4)} (${m.stepMs.toFixed(0)} ms/step)`, 'training');
  };
  const run = { variant: s.method, rank: s.rank, steps: s.steps, lr: 0.01, batchSize: 4, checkpointing: s.policy, seed: 3 } as const;
  let adapters: AdapterFactory;
  if (s.method === 'lora-drop') {
    // As in the terminal tour: a short LoRA warm-up measures which layers matter, the rest share one adapter.
    const warmSteps = Math.max(2, Math.round(s.steps * 0.2));
    setStatus(`LoRA-Drop: ${warmSteps} warm-up steps to score the layers...`, 'training');
    const warm = await trainMethod(backend, task, { ...run, variant: 'lora', steps: warmSteps });
    const selection = await selectLoraDropLayers(backend, warm, task, run.batchSize);
    setStatus(`LoRA-Drop: ${selection.kept.length} layers keep their adapter, ${selection.dropped.length} share one`, 'training');
    adapters = loraDropAdapters(selection.dropped);
  } else adapters = ADAPTERS[s.method];
  const result = await trainMethod(backend, task, run, { onStep }, adapters);
  await chart.runAsync();
  state.trainSeconds = (performance.now() - started) / 1000;
  state.heldOutBefore = result.heldOutBefore;
  state.heldOutAfter = result.heldOutAfter;
  $('heldout').textContent = `${result.heldOutBefore.toFixed(3)} → ${result.heldOutAfter.toFixed(3)}`;
  result.adapted.setTraining(false);
  trained = { result, values: new Map(Object.entries({ ...result.adapted.values, ...result.trained })) };
  setStatus(`trained ${s.steps} steps: held-out loss ${result.heldOutBefore.toFixed(3)} → ${result.heldOutAfter.toFixed(3)}; ${result.trainableParams.toLocaleString('en-US')} trainable parameters`, 'trained');
  $<HTMLButtonElement>('gen').disabled = false;
  $<HTMLButtonElement>('train').disabled = false;
}

async function generate(): Promise<void> {
  if (!trained) return;
  setStatus('generating...', 'generating');
  const backend = await backendPromise;
  const { base } = trained.result;
  const tok = base.tokenizer;
  const prompt = tok.encode($<HTMLInputElement>('prompt').value, { addSpecialTokens: true });
  const maxLength = Math.min(base.model.cacheLayout().maxPositions, prompt.length + 16);
  const gen = await Generator.create(base.model, trained.values, { backend, maxLength });
  const r = await gen.generate(prompt, { maxNewTokens: maxLength - prompt.length, seed: 0, ...(tok.eosId !== null ? { stopTokens: [tok.eosId] } : {}) });
  state.generated = tok.decode(r.tokens, { skipSpecialTokens: true });
  $('generated').textContent = state.generated;
  setStatus(`generated ${r.tokens.length} tokens (${r.stopReason})`, 'done');
}

function guard(f: () => Promise<void>): (e: Event) => void {
  return (e) => {
    e.preventDefault();
    f().catch((err: unknown) => {
      state.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      setStatus(state.error, 'error');
      $<HTMLButtonElement>('train').disabled = false;
    });
  };
}

$('settings').addEventListener('submit', guard(train));
$('generate').addEventListener('submit', guard(generate));
void resetChart();
