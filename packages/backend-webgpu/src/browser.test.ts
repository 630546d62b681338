import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReferenceBackend } from '@lowrank/core';
import { buildBrowserStep } from './test-support/browser-step.js';

const CHROMIUM = process.env.LOWRANK_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
// Under CI the smoke test must run (CI installs chromium), so a missing browser fails it there.
const SKIP = !HAVE_CHROMIUM && process.env.CI !== 'true';
if (SKIP) console.warn(`[backend-webgpu] skipping the browser smoke test: no Chromium at ${CHROMIUM} (apt-get install chromium, or set LOWRANK_CHROMIUM)`);

/** Flags for headless Debian Chromium with WebGPU on SwiftShader and no network chatter. */
const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const here = dirname(fileURLToPath(import.meta.url));

/** Bundles the page (core and this backend from their TypeScript sources) into one ES module. */
async function bundlePage(): Promise<string> {
  const out = await build({
    entryPoints: [join(here, 'browser/smoke-page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['source'],
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

function serve(files: Record<string, { type: string; body: string }>): Promise<Server> {
  const server = createServer((req, res) => {
    const f = files[req.url ?? '/'];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': f.type }).end(f.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe.skipIf(SKIP)('browser smoke test (headless Chromium, SwiftShader WebGPU)', () => {
  let server: Server;
  let profile: string;
  beforeAll(async () => {
    const js = await bundlePage();
    server = await serve({
      '/': { type: 'text/html', body: '<!doctype html><meta charset="utf-8"><title>lowrank smoke</title><script type="module" src="/page.js"></script>' },
      '/page.js': { type: 'text/javascript', body: js },
    });
    profile = await mkdtemp(join(tmpdir(), 'lowrank-chromium-'));
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('runs training steps in the page and reports losses that match the reference', async () => {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      const page = await context.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      const { port } = server.address() as AddressInfo;
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => (globalThis as { lowrankResult?: unknown }).lowrankResult !== undefined, undefined, { timeout: 90_000 });
      const result = (await page.evaluate(() => (globalThis as { lowrankResult?: unknown }).lowrankResult)) as {
        ok: boolean;
        losses?: number[];
        adapter?: string;
        error?: string;
      };
      expect(result.error ?? '', logs.join('\n')).toBe('');
      expect(result.ok).toBe(true);

      const step = buildBrowserStep();
      const ref = await createReferenceBackend().compile(step.graph, step.signature);
      await ref.setParameters(step.params);
      const expected: number[] = [];
      for (let i = 0; i < 2; i++) expected.push(Number((await ref.run(step.feeds(i))).loss.data[0]));
      console.log(`[backend-webgpu] browser losses ${result.losses?.join(', ')} on '${result.adapter}'; reference ${expected.join(', ')}`);
      expect(result.losses).toHaveLength(2);
      result.losses!.forEach((l, i) => expect(Math.abs(l - expected[i])).toBeLessThan(1e-4 * Math.max(1, expected[i])));
    } finally {
      await context.close();
    }
  }, 120_000);
});
