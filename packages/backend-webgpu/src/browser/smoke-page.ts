// Entry of the browser smoke test's bundle: two training steps on the page's WebGPU,
// the losses reported through window.lowrankResult (read by playwright).
import { createWebGpuBackend } from '../index.js';
import { buildBrowserStep } from '../test-support/browser-step.js';

interface PageResult {
  readonly ok: boolean;
  readonly losses?: number[];
  readonly adapter?: string;
  readonly error?: string;
}

async function main(): Promise<PageResult> {
  const backend = await createWebGpuBackend();
  const step = buildBrowserStep();
  const exe = await backend.compile(step.graph, step.signature);
  await exe.setParameters(step.params);
  const losses: number[] = [];
  for (let i = 0; i < 2; i++) losses.push(Number((await exe.run(step.feeds(i))).loss.data[0]));
  exe.dispose();
  return { ok: true, losses, adapter: backend.adapterInfo };
}

const w = globalThis as unknown as { lowrankResult?: PageResult };
main().then(
  (r) => (w.lowrankResult = r),
  (e: unknown) => (w.lowrankResult = { ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }),
);
