// Generation speed of the llama-bench preset on backend-cpu: KV-cached decode
// (two compiled graphs) against rerunning the whole sequence per token.
// Run: pnpm --filter @lowrank/models exec tsx --conditions=source examples/bench-generate.ts [preset] [maxLength] [newTokens]
import { createCpuBackend } from '@lowrank/backend-cpu';
import { Generator, createPreset, generateWithoutCache } from '../src/index.js';

const preset = process.argv[2] ?? 'llama-bench';
const maxLength = Number(process.argv[3] ?? 256);
const newTokens = Number(process.argv[4] ?? 64);
const { model, weights } = createPreset(preset, { seed: 1 });
const backend = createCpuBackend();
const prompt = [256, ...Array.from(new TextEncoder().encode('The quick brown fox jumps over the lazy dog. '))];

let t = performance.now();
const gen = await Generator.create(model, weights, { backend, maxLength, prefillLength: 64 });
const setupMs = performance.now() - t;
await gen.generate(prompt, { maxNewTokens: 4 }); // warm-up
t = performance.now();
const cached = await gen.generate(prompt, { maxNewTokens: newTokens });
const cachedMs = performance.now() - t;
t = performance.now();
await gen.generate(prompt, { maxNewTokens: 1 }); // prefill only
const prefillMs = performance.now() - t;
gen.dispose();

t = performance.now();
const plain = await generateWithoutCache(model, weights, backend, prompt, { maxNewTokens: Math.min(newTokens, 16), maxLength });
const plainMs = performance.now() - t;
const same = plain.tokens.every((tok, i) => tok === cached.tokens[i]);

const params = [...model.namedParams().values()].reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
console.log(JSON.stringify({
  preset,
  params,
  promptTokens: prompt.length,
  maxLength,
  compileAndUploadMs: Math.round(setupMs),
  cached: {
    tokens: cached.tokens.length,
    ms: Math.round(cachedMs),
    tokensPerSecond: +(cached.tokens.length / (cachedMs / 1000)).toFixed(1),
    prefillMs: Math.round(prefillMs),
    decodeMsPerToken: +((cachedMs - prefillMs) / (cached.tokens.length - 1)).toFixed(1),
  },
  withoutCache: { tokens: plain.tokens.length, ms: Math.round(plainMs), tokensPerSecond: +(plain.tokens.length / (plainMs / 1000)).toFixed(1) },
  greedyTokensAgree: same,
}, null, 2));
backend.dispose();
