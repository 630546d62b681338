// TensorFlow.js participant: `tsx tfjs-worker.ts wasm|cpu`, driven by the harness protocol.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BenchModelConfig } from '../config.js';
import { readSafetensors } from '../safetensors-file.js';
import { resetPeakRss, serve, timeSteps } from './protocol.js';
import { TfjsLlamaLora } from './tfjs-llama.js';
import { BenchError } from '../errors.js';

const backend = process.argv[2];
if (backend !== 'wasm' && backend !== 'cpu') {
  process.stderr.write(`tfjs worker: backend must be 'wasm' or 'cpu', got '${backend}'\n`);
  process.exit(2);
}

let model: TfjsLlamaLora | undefined;

serve({
  async init(req) {
    const t0 = performance.now();
    // tfjs-backend-wasm's threaded build needs Blob-URL workers, which Node lacks,
    // so in Node it runs its single-threaded SIMD build (the default it picks).
    await tf.setBackend(backend);
    await tf.ready();
    model = new TfjsLlamaLora(req.config as BenchModelConfig, readSafetensors(String(req.weights)));
    (globalThis as { gc?: () => void }).gc?.();
    const rssBeforeFirstStepBytes = process.memoryUsage().rss;
    const tf0 = performance.now();
    const first = await model.step(true);
    const firstStepMs = performance.now() - tf0;
    const stepsInInit = Number(req.initSteps ?? 2);
    const second = stepsInInit > 1 ? await model.step() : undefined;
    const reply = {
      loss: first.loss,
      gradNorm: first.gradNorm,
      lossAfterStep: second?.loss,
      setupMs: performance.now() - t0,
      compileMs: 0,
      firstStepMs,
      backend: tf.getBackend(),
      rssBeforeFirstStepBytes,
      rssAfterInitBytes: process.memoryUsage().rss,
    };
    resetPeakRss();
    return reply;
  },
  async time(req) {
    if (!model) throw new BenchError('send init before time: the participant has no model yet');
    const m = model;
    return timeSteps(Number(req.steps), async () => (await m.step()).loss);
  },
});
