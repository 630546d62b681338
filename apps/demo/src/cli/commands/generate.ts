import { Generator } from '@lowrank/models';
import type { BackendName } from '../command-options.js';
import { createBackend } from '../runtime/backends.js';
import { loadModelWithAdapter } from '../runtime/model-with-adapter.js';

export interface GenerateArgs {
  model: string;
  adapter?: string;
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  backend: BackendName;
  json: boolean;
}

/** `lowrank generate`: continues the prompt with a KV cache (greedy unless temperature/top-k/top-p ask to sample). */
export async function runGenerate(a: GenerateArgs): Promise<{ prompt: string; text: string; tokens: number[]; stopReason: string }> {
  const { base, values } = await loadModelWithAdapter(a.model, a.adapter);
  const tok = base.tokenizer;
  const prompt = tok.encode(a.prompt, { addSpecialTokens: true });
  const backend = await createBackend(a.backend);
  const maxLength = Math.min(base.model.cacheLayout().maxPositions, prompt.length + a.maxNewTokens);
  const gen = await Generator.create(base.model, new Map(Object.entries(values)), { backend, maxLength });
  const sampling = a.temperature > 0 ? { doSample: true, temperature: a.temperature, topK: a.topK, topP: a.topP } : { topK: a.topK > 0 ? a.topK : 0 };
  const r = await gen.generate(prompt, {
    maxNewTokens: Math.max(1, maxLength - prompt.length),
    seed: a.seed,
    ...(a.temperature > 0 ? sampling : {}),
    ...(tok.eosId !== null ? { stopTokens: [tok.eosId] } : {}),
  });
  backend.dispose();
  return { prompt: a.prompt, text: tok.decode(r.tokens, { skipSpecialTokens: true }), tokens: r.tokens, stopReason: r.stopReason };
}
