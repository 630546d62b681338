/**
 * Generation speed: lowrank's resident-cache generator against transformers.js
 * (@huggingface/transformers on onnxruntime-node) running the same weights
 * exported by lowrank, same prompts, greedy, identical token ids asserted.
 *
 *   pnpm --filter @lowrank/bench bench:generate [--runs=3] [--new-tokens=64] [--max-length=256] [--long-prompt=720] [--no-write]
 *
 * Rows: batch 1 and 8 (and one long prompt, where the cache dominates), prefill and decode tokens/s, and the memory-bandwidth
 * bound (weight bytes streamed per decode step / measured copy bandwidth).
 * Also: the generator before issue 17 (same run, batch 1) and an unmerged
 * LoRA adapter (its path in every step, and folded by foldAdapters) against
 * the merged model.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCpuBackend } from '@lowrank/backend-cpu';
import type { Backend } from '@lowrank/core';
import { createPreset } from '@lowrank/models';
import { foldAdapters } from '@lowrank/variants';
import { adapterPair } from './adapter-models.js';
import { copyBandwidth } from './copy-bandwidth.js';
import { exportDecoderWithPast, writeTransformersJsFolder } from './hf-decoder-export.js';
import { figuresOf, lowrankParticipant, race, type GenerateFigures, type GenerationParticipant } from './lowrank-generate.js';
import { PreviousGenerator } from './previous-generator.js';
import { benchPrompts, longBenchPrompt } from './prompts.js';
import { loadTransformersJs, transformersJsParticipant } from './transformers-peer.js';

const argv = process.argv.slice(2);
const option = (name: string, dflt: number) => Number(argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const runs = option('runs', 3);
const newTokens = option('new-tokens', 64);
const maxLength = option('max-length', 256);
const threads = option('threads', 2);
const longPrompt = option('long-prompt', 720);
const preset = 'llama-bench';
const log = (s: string) => process.stderr.write(`${s}\n`);
const fx = (x: number, d = 1) => x.toFixed(d);

interface Scenario {
  label: string;
  prompts: number[][];
  maxLength: number;
  /** Also race the generator before issue 17 (single prompts only). */
  previous: boolean;
}

interface Row {
  sc: Scenario;
  lowrankName: string;
  lowrank: GenerateFigures;
  peer: GenerateFigures;
  previous?: GenerateFigures;
}

/** The generator before issue 17, single prompts only; run ends are timestamped (its prefill is ceil(N / 64) runs). */
async function previousParticipant(prompt: number[], maxLength: number): Promise<GenerationParticipant> {
  const { model, weights } = createPreset(preset, { seed: 1 });
  const cpu = createCpuBackend({ threads });
  const ends: number[] = [];
  const backend: Backend = {
    ...cpu,
    memoryStats: () => cpu.memoryStats(),
    dispose: () => cpu.dispose(),
    compile: async (g, sig) => {
      const exe = await cpu.compile(g, sig);
      return {
        report: exe.report,
        setParameters: (v) => exe.setParameters(v),
        getParameters: (n) => exe.getParameters(n),
        dispose: () => exe.dispose(),
        run: async (f) => {
          const out = await exe.run(f);
          ends.push(performance.now());
          return out;
        },
      };
    },
  };
  const gen = await PreviousGenerator.create(model, weights, { backend, maxLength, prefillLength: 64 });
  await gen.generate(prompt, { maxNewTokens: 4 });
  const chunks = Math.ceil(prompt.length / 64);
  return {
    name: 'lowrank before issue 17',
    async once() {
      ends.length = 0;
      const t0 = performance.now();
      const r = await gen.generate(prompt, { maxNewTokens: newTokens });
      const prefillEnd = ends[chunks - 1];
      return { prefillMs: prefillEnd - t0, decodeMsPerStep: (ends[ends.length - 1] - prefillEnd) / (ends.length - chunks), tokens: [r.tokens] };
    },
    dispose() {
      gen.dispose();
      cpu.dispose();
    },
  };
}

async function main(): Promise<number> {
  const started = new Date();
  const loads = [loadavg()[0]];
  const { model, weights } = createPreset(preset, { seed: 1 });
  const weightBytes = [...weights.values()].reduce((s, t) => s + t.data.byteLength, 0);
  const bandwidth = copyBandwidth();
  log(`generate bench: ${preset}, ${fx(weightBytes / 1e6)} MB of f32 weights, copy bandwidth ${fx(bandwidth / 1e9, 2)} GB/s`);

  const dir = mkdtempSync(join(tmpdir(), 'lowrank-generate-bench-'));
  try {
    writeTransformersJsFolder(join(dir, preset), model, exportDecoderWithPast(model, weights));
    const tjs = await loadTransformersJs(dir, preset, threads);
    const scenarios: Scenario[] = [
      { label: 'batch 1', prompts: benchPrompts(1), maxLength, previous: true },
      { label: 'batch 8', prompts: benchPrompts(8), maxLength, previous: false },
      ...(longPrompt > 0 ? [{ label: `batch 1, ${longPrompt}-token prompt`, prompts: [longBenchPrompt(longPrompt)], maxLength: longPrompt + newTokens, previous: true }] : []),
    ];
    const rows: Row[] = [];
    for (const sc of scenarios) {
      const racers = [
        await lowrankParticipant(model, weights, sc.prompts, { maxLength: sc.maxLength, newTokens, threads }),
        await transformersJsParticipant(tjs, sc.prompts, newTokens),
        ...(sc.previous ? [await previousParticipant(sc.prompts[0], sc.maxLength)] : []),
      ];
      const samples = await race(racers, runs);
      racers.forEach((r) => r.dispose());
      const [lowrank, peer, previous] = samples.map((x) => figuresOf(x, sc.prompts, newTokens));
      if (!lowrank.tokens.every((row, i) => row.join() === peer.tokens[i].join())) {
        log(`generate bench: ${sc.label}: greedy token ids differ between lowrank and transformers.js; not comparing different computations`);
        log(`lowrank: ${JSON.stringify(lowrank.tokens)}\ntransformers.js: ${JSON.stringify(peer.tokens)}`);
        return 1;
      }
      rows.push({ sc, lowrankName: racers[0].name, lowrank, peer, ...(previous ? { previous } : {}) });
      log(`generate bench: ${sc.label}: lowrank ${fx(lowrank.decodeTokensPerSecond)} tok/s decode, transformers.js ${fx(peer.decodeTokensPerSecond)}; tokens identical`);
    }
    loads.push(loadavg()[0]);
    const adapters = adapterPair(preset, 16);
    const foldStart = performance.now();
    const folded = foldAdapters(adapters.unmerged.model, adapters.unmerged.weights);
    const foldMs = performance.now() - foldStart;
    const trio = [
      await lowrankParticipant(adapters.unmerged.model, adapters.unmerged.weights, benchPrompts(1), { maxLength, newTokens, threads }),
      await lowrankParticipant(adapters.unmerged.model, adapters.unmerged.weights, benchPrompts(1), { maxLength, newTokens, threads, folded }),
      await lowrankParticipant(adapters.merged.model, adapters.merged.weights, benchPrompts(1), { maxLength, newTokens, threads }),
    ];
    // Three short participants whose difference is a fraction of a millisecond: more rounds than the main race.
    const trioRounds = 3 * runs;
    const [unmerged, unmergedFolded, merged] = (await race(trio, trioRounds)).map((x) => figuresOf(x, benchPrompts(1), newTokens));
    trio.forEach((x) => x.dispose());
    loads.push(loadavg()[0]);

    const same = (a: GenerateFigures, b: GenerateFigures) => (a.tokens[0].join() === b.tokens[0].join() ? 'identical' : 'differ');
    const bound = (batch: number) => (batch * bandwidth) / weightBytes;
    const line = (sc: Scenario, name: string, f: GenerateFigures) =>
      `| ${sc.label} | ${name} | ${fx(f.prefillTokensPerSecond)} | ${fx(f.decodeTokensPerSecond)} | ${fx(f.decodeMsPerStep)} | ${fx(bound(f.batch))} | ${fx(f.decodeTokensPerSecond / bound(f.batch), 2)} |`;
    const table = [
      '| scenario | implementation | prefill tok/s | decode tok/s | decode ms/step | bandwidth bound tok/s | decode / bound |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rows.flatMap(({ sc, lowrankName, lowrank, peer, previous }) => [
        line(sc, `${lowrankName}, backend-cpu`, lowrank),
        line(sc, 'transformers.js 4.3.2 (same weights, exported by lowrank)', peer),
        ...(previous ? [line(sc, `lowrank before issue 17 (${sc.maxLength}-slot cache fed each step, one-hot write in graph)`, previous)] : []),
      ]),
    ];
    const [b1, b8] = rows;
    const vsPrevious = rows.filter((r) => r.previous).map((r) => `${r.sc.label} ${fx(r.lowrank.decodeTokensPerSecond / r.previous!.decodeTokensPerSecond, 2)}x`);
    const section = [
      `## bench:generate — greedy decoding, lowrank vs transformers.js (${preset})`,
      '',
      `Date: ${started.toISOString()}. Machine: ${cpus().length}-core ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, no GPU, shared with other agents ` +
        `(load average ${loads.map((l) => fx(l, 2)).join(' / ')} at start / after the race / at the end). ${threads} intra-op threads on both sides, onnxruntime-node 1.30.0 on both sides.`,
      `Command: \`pnpm --filter @lowrank/bench bench:generate --runs=${runs} --new-tokens=${newTokens} --max-length=${maxLength} --long-prompt=${longPrompt}\`. ` +
        `Prompts: byte tokens, ${b1.lowrank.promptTokens} for batch 1, ${b8.lowrank.promptTokens} over 8 rows (left-padded); ${newTokens} new tokens per row; ` +
        `${runs} rounds, participants interleaved in rotating order, best round per participant (decode = mean ms/step within a run) after a warm-up. Weights: ${fx(weightBytes / 1e6)} MB f32; copy bandwidth ${fx(bandwidth / 1e9, 2)} GB/s (256 MiB typed-array copy, best of 8); ` +
        'bound = batch x bandwidth / weight bytes (every decode step streams all weights once; the KV cache adds to that).',
      '',
      ...table,
      '',
      'Greedy token ids identical between lowrank and transformers.js in every scenario: yes (asserted).',
      `Ratios from this run: decode batch 1 lowrank / transformers.js ${fx(b1.lowrank.decodeTokensPerSecond / b1.peer.decodeTokensPerSecond, 2)}x; ` +
        `batch 8 lowrank / transformers.js ${fx(b8.lowrank.decodeTokensPerSecond / b8.peer.decodeTokensPerSecond, 2)}x; ` +
        `lowrank / before issue 17: ${vsPrevious.join(', ')}; ` +
        `batch 8 / batch 1 (lowrank) ${fx(b8.lowrank.decodeTokensPerSecond / b1.lowrank.decodeTokensPerSecond, 2)}x; ` +
        `bandwidth bound / lowrank batch 1 ${fx(bound(1) / b1.lowrank.decodeTokensPerSecond, 2)}x.`,
      `Unmerged LoRA (r 16 on all 7 linear layers of every block, batch 1; best of ${trioRounds} interleaved rounds) against the merged model (merge_and_unload), ${fx(merged.decodeMsPerStep)} ms/step: ` +
        `folded for the generator (\`foldAdapters\`, the user's weights unmerged; ${fx(folded.bytes / 1e6)} MB of folded weights made in ${fx(foldMs)} ms) ${fx(unmergedFolded.decodeMsPerStep)} ms/step, ` +
        `${fx(unmergedFolded.decodeMsPerStep / merged.decodeMsPerStep, 2)}x (greedy tokens ${same(unmergedFolded, merged)}); ` +
        `adapter path in every step (the default, no extra memory) ${fx(unmerged.decodeMsPerStep)} ms/step, ${fx(unmerged.decodeMsPerStep / merged.decodeMsPerStep, 2)}x (greedy tokens ${same(unmerged, merged)}).`,
    ].join('\n');
    process.stdout.write(`${section}\n`);
    if (!argv.includes('--no-write')) {
      appendFileSync(fileURLToPath(new URL('../../RESULTS.md', import.meta.url)), `\n${section}\n`);
      log('generate bench: appended to bench/RESULTS.md');
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
