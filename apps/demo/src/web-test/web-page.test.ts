import { existsSync, mkdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory } from './serve-static.js';

const CHROMIUM = process.env.LOWRANK_CHROMIUM ?? '/usr/bin/chromium';
// Under CI the browser test must run (CI installs chromium), so a missing browser fails it there.
const SKIP = !existsSync(CHROMIUM) && process.env.CI !== 'true';
if (SKIP) console.warn(`[demo] skipping the web page test: no Chromium at ${CHROMIUM} (apt-get install chromium, or set LOWRANK_CHROMIUM)`);

/** Headless Debian Chromium with WebGPU on SwiftShader, and no network chatter (ENVIRONMENT.md). */
const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = join(appDir, 'test-artifacts');
/** SwiftShader runs a llama-tiny step in ~3 s here, so the test trains only a few steps. */
const STEPS = 6;

interface DemoState {
  status: string;
  losses: number[];
  heldOutBefore?: number;
  heldOutAfter?: number;
  plannedPeakBytes?: number;
  measuredPeakBytes?: number;
  generated?: string;
  error?: string;
  firstStepSeconds?: number;
  trainSeconds?: number;
}

describe.skipIf(SKIP)('web demo page (Vite build, headless Chromium, SwiftShader WebGPU)', () => {
  let server: Server;
  let outDir: string;
  let profile: string;
  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'lowrank-web-'));
    profile = await mkdtemp(join(tmpdir(), 'lowrank-chromium-'));
    await build({ configFile: join(appDir, 'web', 'vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'error' });
    server = await serveDirectory(outDir);
  }, 120_000);
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    for (const d of [outDir, profile]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('fine-tunes in the page with a live loss chart and memory readout, then generates', async () => {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      const page = await context.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page.selectOption('#method', 'lora');
      await page.fill('#rank', '4');
      await page.selectOption('#policy', 'sqrt');
      await page.fill('#steps', String(STEPS));
      await page.click('#train');
      const read = () => page.evaluate(() => (globalThis as unknown as { lowrankDemo: DemoState }).lowrankDemo);
      await page.waitForFunction(() => ['trained', 'error'].includes((globalThis as unknown as { lowrankDemo: DemoState }).lowrankDemo.status), undefined, { timeout: 150_000 });
      const trained = await read();
      expect(trained.error ?? '', logs.join('\n')).toBe('');
      console.log(
        `[demo] browser: ${STEPS} steps, losses ${trained.losses.map((l) => l.toFixed(3)).join(' ')}; held-out ${trained.heldOutBefore?.toFixed(3)} -> ${trained.heldOutAfter?.toFixed(3)}; ` +
          `first step after ${trained.firstStepSeconds?.toFixed(1)} s, training ${trained.trainSeconds?.toFixed(1)} s`,
      );
      expect(trained.losses).toHaveLength(STEPS);
      const tail = trained.losses.slice(-2).reduce((a, b) => a + b, 0) / 2;
      expect(tail).toBeLessThan(trained.losses[0] - 0.1);
      expect(trained.heldOutAfter!).toBeLessThan(trained.heldOutBefore!);
      // One chart symbol per step, and the readout shows the memory figures the page measured.
      expect(await page.locator('#chart svg g.mark-symbol path').count()).toBe(STEPS);
      expect(trained.plannedPeakBytes!).toBeGreaterThan(0);
      expect(trained.measuredPeakBytes!).toBeGreaterThan(0);
      expect(await page.textContent('#planned')).toBe(`${(trained.plannedPeakBytes! / 1e6).toFixed(2)} MB`);
      expect(await page.textContent('#measured')).toBe(`${(trained.measuredPeakBytes! / 1e6).toFixed(2)} MB`);

      await page.click('#gen');
      await page.waitForFunction(() => ['done', 'error'].includes((globalThis as unknown as { lowrankDemo: DemoState }).lowrankDemo.status), undefined, { timeout: 60_000 });
      const done = await read();
      expect(done.error ?? '').toBe('');
      expect(done.generated!.length).toBeGreaterThan(0);
      expect(await page.textContent('#generated')).toBe(done.generated);

      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'web-demo.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await context.close();
    }
  }, 240_000);
});
