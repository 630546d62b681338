// The web demo: the terminal tour's pretrained base and task, the same trainMethod(), on this tab's WebGPU.
import type { CheckpointPolicy, StepMetrics } from '@lowrank/core';
import { createWebGpuBackend } from '@lowrank/backend-webgpu';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { accuracyOf, type ExactMatch, type GenerationSummary } from '../src/tour/accuracy.js';
import { makeTask, TASK_DESCRIPTIONS, type TaskData } from '../src/tour/task.js';
import { cliAdapters, trainMethod, type AdapterFactory, type MethodResult } from '../src/tour/train-method.js';
import { loraDropAdapters, selectLoraDropLayers } from '../src/tour/lora-drop-demo.js';
import { adaLoraAdapters, dyLoraAdapters } from '../src/tour/variants-two.js';
import type { BaseModel } from '../src/cli/runtime/base-model.js';
import { fetchBaseModel, type BaseManifest } from './load-base.js';
import { peftAdapterFiles } from './peft-download.js';

type Method = 'lora' | 'dora' | 'qlora' | 'dylora' | 'adalora' | 'lora-drop';

/** The same adapter factories the terminal tour uses. */
const ADAPTERS: Record<Exclude<Method, 'lora-drop'>, AdapterFactory> = {
  lora: cliAdapters,
  dora: cliAdapters,
  qlora: cliAdapters,
  dylora: dyLoraAdapters(() => undefined),
  adalora: adaLoraAdapters(() => undefined),
};

/** Where the page finds the base model: the dev server serves the tour's cache there (vite.config.ts). */
const BASE_ROOT = './demo-base';
/** Held-out prompts the page scores: fewer than the terminal's, as a software GPU decodes slowly. */
const HELD_OUT = 32;
/**
 * New tokens per answer: more than the 2 an answer needs (word, stop), so a wrong answer shows how the model
 * runs on and decoding takes several steps on the GPU-resident cache. The score is the same either way.
 */
const ANSWER_TOKENS = 8;

/** What the page exposes for its browser test (and for the curious, in the console). */
interface DemoState {
  status: 'loading' | 'idle' | 'training' | 'done' | 'error';
  base?: BaseManifest;
  losses: number[];
  stepMs: number[];
  /** Seconds from pressing Train to the first finished step (compilation and the baseline answers included). */
  firstStepSeconds?: number;
  trainSeconds?: number;
  heldOutBefore?: number;
  heldOutAfter?: number;
  accuracyBefore?: number;
  accuracyAfter?: number;
  /** Per held-out prompt: the text, and the token ids generated from (BOS first) and generated before and after training. */
  answers?: { prompt: string; expected: string; before: string; after: string; promptIds: number[]; beforeIds: number[]; afterIds: number[] }[];
  /** How the answers were generated (the library's Generator): before and after training. */
  generation?: { before: GenerationSummary; after: GenerationSummary; maxNewTokens: number };
  plannedPeakBytes?: number;
  measuredPeakBytes?: number;
  downloads?: string[];
  error?: string;
}

const state: DemoState = { status: 'loading', losses: [], stepMs: [] };
(globalThis as unknown as { lowrankDemo: DemoState }).lowrankDemo = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

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
  steps: Math.max(1, Math.round(Number($<HTMLInputElement>('steps').value) || 150)),
  lr: Number($<HTMLInputElement>('lr').value) || 0.003,
});

let loaded: { fresh: () => BaseModel; task: TaskData } | undefined;
const backendPromise = createWebGpuBackend();

async function loadBase(): Promise<void> {
  setStatus('fetching the base model...', 'loading');
  const { fresh, manifest } = await fetchBaseModel(BASE_ROOT);
  const tok = fresh().tokenizer;
  const task = makeTask(tok, { tasks: ['first'], trainPerTask: 250, heldOutPerTask: HELD_OUT, seqLen: 16, seed: 1 });
  loaded = { fresh, task };
  state.base = manifest;
  $('base').textContent =
    `LLaMA, ${manifest.parameters.toLocaleString('en-US')} parameters (${manifest.recipe.layers} layers, width ${manifest.recipe.hiddenSize}, BPE vocabulary ${manifest.recipe.vocabSize}), ` +
    `pretrained by \`npm run demo\` on ${manifest.corpus.source} (${manifest.corpus.tokens.toLocaleString('en-US')} tokens, held-out loss ${manifest.heldOutLoss.toFixed(2)}).`;
  $('task').textContent = `${TASK_DESCRIPTIONS.first}; ${task.heldOutExamples.length} held-out prompts never trained on, words from: ${task.words.join(', ')}.`;
  $<HTMLButtonElement>('train').disabled = false;
  setStatus('base model loaded: pick a method and train', 'idle');
}

function showAnswers(before: ExactMatch, after: ExactMatch): void {
  state.answers = before.answers.map((b, i) => ({
    prompt: b.prompt,
    expected: b.expected,
    before: b.answer,
    after: after.answers[i].answer,
    promptIds: [...before.promptIds[i]],
    beforeIds: [...before.generatedIds[i]],
    afterIds: [...after.generatedIds[i]],
  }));
  state.generation = { before: before.generation, after: after.generation, maxNewTokens: after.maxNewTokens };
  const g = after.generation;
  $('decode').textContent = `${g.decodeTokensPerSecond.toFixed(0)} tokens/s, cache ${g.residency === 'backend' ? 'resident on the GPU' : 'fed from the host'} (${g.decodeGraphs} decode graph${g.decodeGraphs === 1 ? '' : 's'})`;
  const cell = (a: string, expected: string) => `<td class="${a === expected ? 'ok' : 'miss'}">${esc(a.trim()) || '<i>(nothing)</i>'}</td>`;
  $('answers').innerHTML =
    `<thead><tr><th>held-out prompt</th><th>expected</th><th>base model</th><th>fine-tuned</th></tr></thead><tbody>` +
    state.answers.map((a) => `<tr><td><code>${esc(a.prompt)}</code></td><td>${esc(a.expected.trim())}</td>${cell(a.before, a.expected)}${cell(a.after, a.expected)}</tr>`).join('') +
    '</tbody>';
}

const urls: string[] = [];
function offerDownloads(result: MethodResult, method: Method): void {
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  const el = $('downloads');
  const config = result.adapted.config;
  if (!config || !['lora', 'dora', 'qlora'].includes(method)) {
    el.textContent = 'PEFT download: offered for LoRA, DoRA and QLoRA adapters.';
    state.downloads = [];
    return;
  }
  const files = peftAdapterFiles(
    result.trained,
    { r: config.r, lora_alpha: config.lora_alpha, target_modules: config.target_modules, lora_dropout: config.lora_dropout, use_rslora: config.use_rslora, use_dora: config.use_dora, rank_pattern: config.rank_pattern, alpha_pattern: config.alpha_pattern },
    'lowrank demo base (npm run demo)',
  );
  const link = (name: string, blob: Blob) => {
    const url = URL.createObjectURL(blob);
    urls.push(url);
    return `<a download="${name}" href="${url}">${name}</a> (${blob.size.toLocaleString('en-US')} bytes)`;
  };
  el.innerHTML = `PEFT adapter: ${link('adapter_model.safetensors', new Blob([files.weights], { type: 'application/octet-stream' }))}, ${link('adapter_config.json', new Blob([files.config], { type: 'application/json' }))}`;
  state.downloads = ['adapter_model.safetensors', 'adapter_config.json'];
}

async function train(): Promise<void> {
  if (!loaded) return;
  const { fresh, task } = loaded;
  const s = settings();
  $<HTMLButtonElement>('train').disabled = true;
  state.losses = [];
  state.stepMs = [];
  delete state.error;
  const started = performance.now();
  setStatus(`compiling ${s.method}, rank ${s.rank}, checkpointing ${s.policy}; the base model answers the held-out prompts first...`, 'training');
  const chart = await resetChart();
  const backend = await backendPromise;
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
  const run = { variant: s.method, rank: s.rank, steps: s.steps, lr: s.lr, batchSize: 8, checkpointing: s.policy, seed: 3 } as const;
  // Answers come from the library's Generator with the KV cache held on the GPU between steps.
  const where = { backend, task, loadBase: () => Promise.resolve(fresh()), residency: 'backend', answerTokens: ANSWER_TOKENS } as const;
  let adapters: AdapterFactory;
  if (s.method === 'lora-drop') {
    // As in the terminal tour: a short LoRA warm-up measures which layers matter, the rest share one adapter.
    const warmSteps = Math.max(2, Math.round(s.steps * 0.2));
    setStatus(`LoRA-Drop: ${warmSteps} warm-up steps to score the layers...`, 'training');
    const warm = await trainMethod(where, { ...run, variant: 'lora', steps: warmSteps });
    const selection = await selectLoraDropLayers(backend, warm, task, run.batchSize);
    setStatus(`LoRA-Drop: ${selection.kept.length} layers keep their adapter, ${selection.dropped.length} share one`, 'training');
    adapters = loraDropAdapters(selection.dropped);
  } else adapters = ADAPTERS[s.method];
  const result = await trainMethod(where, run, { onStep }, adapters);
  await chart.runAsync();
  state.trainSeconds = (performance.now() - started) / 1000;
  state.heldOutBefore = result.heldOutBefore;
  state.heldOutAfter = result.heldOutAfter;
  state.accuracyBefore = accuracyOf(result.matchBefore);
  state.accuracyAfter = accuracyOf(result.matchAfter);
  $('heldout').textContent = `${result.heldOutBefore.toFixed(3)} → ${result.heldOutAfter.toFixed(3)}`;
  $('accuracy').textContent = `${result.matchBefore.correct}/${result.matchBefore.total} → ${result.matchAfter.correct}/${result.matchAfter.total}`;
  showAnswers(result.matchBefore, result.matchAfter);
  offerDownloads(result, s.method);
  setStatus(
    `trained ${s.steps} steps in ${state.trainSeconds.toFixed(0)} s: exact match ${state.accuracyBefore.toFixed(2)} → ${state.accuracyAfter.toFixed(2)}, ` +
      `held-out loss ${result.heldOutBefore.toFixed(3)} → ${result.heldOutAfter.toFixed(3)}; ${result.trainableParams.toLocaleString('en-US')} trainable parameters`,
    'done',
  );
  $<HTMLButtonElement>('train').disabled = false;
}

function fail(err: unknown): void {
  state.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  setStatus(state.error, 'error');
  $<HTMLButtonElement>('train').disabled = !loaded;
}

$('settings').addEventListener('submit', (e) => {
  e.preventDefault();
  train().catch(fail);
});
void resetChart();
loadBase().catch(fail);
