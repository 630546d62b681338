import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBase } from '../demo-base/test-cache.js';
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
  answers?: { prompt: string; expected: string; before: string; after: string }[];
  plannedPeakBytes?: number;
  measuredPeakBytes?: number;
  downloads?: string[];
  error?: string;
  firstStepSeconds?: number;
  trainSeconds?: number;
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

  it('loads the cached base, fine-tunes in the page with a live loss chart, answers better after, offers PEFT files', async () => {
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

      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'web-demo.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await context.close();
    }
  }, 600_000);
});
