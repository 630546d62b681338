import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCpuBackend } from '@lowrank/backend-cpu';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBase } from '../demo-base/test-cache.js';
import type { GenerationSummary } from '../tour/accuracy.js';
import { nodeAnswers, tokenMismatches, type NodeAnswers } from './node-answers.js';
import { serveDirectory } from './serve-static.js';

const CHROMIUM = process.env.LOWRANK_CHROMIUM ?? '/usr/bin/chromium';
// Under CI the browser test must run (CI installs chromium), so a missing browser fails it there.
const SKIP = !existsSync(CHROMIUM) && process.env.CI !== 'true';
if (SKIP) console.warn(`[demo] skipping the web page test: no Chromium at ${CHROMIUM} (apt-get install chromium, or set LOWRANK_CHROMIUM)`);

/** Headless Debian Chromium with WebGPU on SwiftShader, and no network chatter (ENVIRONMENT.md). */
const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = join(appDir, 'test-artifacts');
/**
 * SwiftShader trains the small test base at a few seconds a step here, so the test trains a short run at a high
 * learning rate: enough for the adapter to answer with one of the task's words and stop (some answers exact,
 * where the base model answers none), not enough to learn to pick the right word; the terminal tour's 200
 * steps do that.
 */
const STEPS = 30;

interface DemoState {
  status: string;
  base?: { parameters: number };
  losses: number[];
  heldOutBefore?: number;
  heldOutAfter?: number;
  accuracyBefore?: number;
  accuracyAfter?: number;
  answers?: { prompt: string; expected: string; before: string; after: string; promptIds: number[]; beforeIds: number[]; afterIds: number[] }[];
  generation?: { before: GenerationSummary; after: GenerationSummary; maxNewTokens: number };
  plannedPeakBytes?: number;
  measuredPeakBytes?: number;
  downloads?: string[];
  error?: string;
  firstStepSeconds?: number;
  trainSeconds?: number;
}

/**
 * The page's greedy tokens must equal Node's. If a row differs, the failure names Node's top-2 logit margin at
 * the first differing step, so an exact or near tie (f32 WebGPU against ORT) can be told from a wrong cache.
 */
async function expectSameTokens(label: string, node: NodeAnswers, pageIds: readonly (readonly number[])[]): Promise<void> {
  const differing = await tokenMismatches(node, pageIds);
  const detail = differing.map((d) => `row ${d.row} step ${d.step}: page ${d.page}, node ${d.node}, node's top-2 margin ${d.margin.toExponential(3)}${d.pageIsRunnerUp ? " (page's token is node's runner-up)" : ''}`);
  expect(detail, `${label}: greedy tokens of the page (WebGPU) and Node (ORT CPU) differ`).toEqual([]);
  expect(pageIds.map((ids) => [...ids])).toEqual(node.match.generatedIds.map((ids) => [...ids]));
}

const demoState = () => (globalThis as unknown as { lowrankDemo: DemoState }).lowrankDemo;

describe.skipIf(SKIP)('web demo page (Vite build, headless Chromium, SwiftShader WebGPU)', () => {
  let server: Server;
  let outDir: string;
  let profile: string;
  let baseDir: string;
  beforeAll(async () => {
    // The page fetches the base model from ./demo-base/ (the dev server serves the tour's cache there);
    // here the small test base, pretrained once per test run and shared with the tour test.
    baseDir = (await testBase()).dir;
    outDir = await mkdtemp(join(tmpdir(), 'lowrank-web-'));
    profile = await mkdtemp(join(tmpdir(), 'lowrank-chromium-'));
    await build({ configFile: join(appDir, 'web', 'vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'error' });
    server = await serveDirectory(outDir, { '/demo-base/': baseDir });
  }, 300_000);
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    for (const d of [outDir, profile]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('loads the cached base, fine-tunes in the page with a live loss chart, answers better after (GPU-resident KV cache, the tokens Node generates), offers PEFT files', async () => {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, acceptDownloads: true });
    try {
      const page = await context.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page.waitForFunction(() => ['idle', 'error'].includes((globalThis as unknown as { lowrankDemo: { status: string } }).lowrankDemo.status), undefined, { timeout: 60_000 });
      const read = () => page.evaluate(demoState);
      const loaded = await read();
      expect(loaded.error ?? '', logs.join('\n')).toBe('');
      const manifest = JSON.parse(readFileSync(join(baseDir, 'lowrank-demo-base.json'), 'utf8')) as { parameters: number };
      expect(loaded.base?.parameters).toBe(manifest.parameters);
      expect(await page.textContent('#base')).toContain(manifest.parameters.toLocaleString('en-US'));

      await page.selectOption('#method', 'lora');
      await page.fill('#rank', '8');
      await page.selectOption('#policy', 'sqrt');
      await page.fill('#steps', String(STEPS));
      await page.fill('#lr', '0.02');
      await page.click('#train');
      await page.waitForFunction(() => ['done', 'error'].includes((globalThis as unknown as { lowrankDemo: { status: string } }).lowrankDemo.status), undefined, { timeout: 400_000 });
      const done = await read();
      expect(done.error ?? '', logs.join('\n')).toBe('');
      console.log(
        `[demo] browser: ${STEPS} steps, loss ${done.losses[0].toFixed(3)} -> ${done.losses[done.losses.length - 1].toFixed(3)}; exact match ${done.accuracyBefore} -> ${done.accuracyAfter}; ` +
          `held-out loss ${done.heldOutBefore?.toFixed(3)} -> ${done.heldOutAfter?.toFixed(3)}; first step after ${done.firstStepSeconds?.toFixed(1)} s, training ${done.trainSeconds?.toFixed(1)} s`,
      );
      expect(done.losses).toHaveLength(STEPS);
      expect(done.heldOutAfter!).toBeLessThan(done.heldOutBefore!);
      // The point of the page: after training in the tab, the model answers more held-out prompts exactly.
      expect(done.accuracyAfter!).toBeGreaterThan(done.accuracyBefore!);
      expect(done.answers!.length).toBe(32);
      // Every one of the 8 task words is the first word of some held-out prompt, so an adapter that has learned
      // the format (one task word, then stop) already beats the base model's zero, whichever word it picks.
      expect(new Set(done.answers!.map((a) => a.expected)).size).toBe(8);
      expect(await page.locator('#answers tbody tr').count()).toBe(done.answers!.length);
      expect(await page.textContent('#accuracy')).toContain('→');
      // One chart symbol per step, and the readout shows the memory figures the page measured.
      expect(await page.locator('#chart svg g.mark-symbol path').count()).toBe(STEPS);
      expect(await page.textContent('#planned')).toBe(`${(done.plannedPeakBytes! / 1e6).toFixed(2)} MB`);

      // The adapter downloads as PEFT's two files; the weights file is a safetensors file with PEFT's keys.
      expect(done.downloads).toEqual(['adapter_model.safetensors', 'adapter_config.json']);
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[download="adapter_model.safetensors"]')]);
      const saved = join(outDir, 'adapter_model.safetensors');
      await download.saveAs(saved);
      const bytes = readFileSync(saved);
      const headerLength = Number(bytes.readBigUInt64LE(0));
      const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { shape: number[] }>;
      const hidden = (JSON.parse(readFileSync(join(baseDir, 'config.json'), 'utf8')) as { hidden_size: number }).hidden_size;
      expect(header['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].shape).toEqual([8, hidden]);
      expect(Object.keys(header).filter((k) => k.endsWith('lora_B.weight')).length).toBeGreaterThan(0);

      // The page answered through the library's Generator with the KV cache resident on the GPU, and its greedy
      // tokens equal Node's (ORT CPU, cache fed from the host) for the same prompts and weights: the base model
      // before training, and after training with the adapter the page offers for download.
      const adapterDir = join(outDir, 'adapter');
      mkdirSync(adapterDir, { recursive: true });
      await download.saveAs(join(adapterDir, 'adapter_model.safetensors'));
      const [configDownload] = await Promise.all([page.waitForEvent('download'), page.click('a[download="adapter_config.json"]')]);
      await configDownload.saveAs(join(adapterDir, 'adapter_config.json'));
      const gen = done.generation!;
      for (const g of [gen.before, gen.after]) {
        expect(g.residency).toBe('backend');
        expect(g.decodeGraphs).toBe(1); // one batch of 32 prompts, one length bucket
        expect(g.decodeSteps).toBeGreaterThan(0);
      }
      // The base model does not stop after a word: its rows decode several steps on the resident cache.
      expect(gen.maxNewTokens).toBe(8);
      expect(gen.before.decodeSteps).toBeGreaterThan(1);
      for (const [when, g] of Object.entries(gen)) {
        if (typeof g === 'number') continue;
        console.log(`[demo] browser generation ${when} training: ${g.residency} cache, ${g.decodeSteps} decode steps, ${g.decodeTokensPerSecond.toFixed(1)} tokens/s decoding (batch ${done.answers!.length}), prefill ${g.prefillMs.toFixed(0)} ms`);
      }
      expect(await page.textContent('#decode')).toContain('resident on the GPU');
      const examples = done.answers!.map((a) => ({ task: 'first' as const, prompt: a.prompt, answer: a.expected }));
      const cpu = createCpuBackend();
      try {
        const generation = { batchSize: examples.length, maxNewTokens: gen.maxNewTokens };
        const before = await nodeAnswers(cpu, baseDir, undefined, examples, generation);
        expect(done.answers!.map((a) => a.promptIds)).toEqual(before.match.promptIds.map((ids) => [...ids]));
        await expectSameTokens('base model', before, done.answers!.map((a) => a.beforeIds));
        const after = await nodeAnswers(cpu, baseDir, adapterDir, examples, generation);
        await expectSameTokens('trained adapter', after, done.answers!.map((a) => a.afterIds));
        // And the text the page shows is what those tokens decode to.
        expect(done.answers!.map((a) => a.after)).toEqual(after.match.answers.map((a) => a.answer));
        expect(done.accuracyAfter).toBe(after.match.correct / after.match.total);
      } finally {
        cpu.dispose();
      }

      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'web-demo.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await context.close();
    }
  }, 600_000);
});
