// `npm run demo`: the terminal tour. Exit 1 when a method fails to beat the base model, or LoRA, DoRA or
// QLoRA falls short of the demo's accuracy target.
import { resolve } from 'node:path';
import { runTour } from './run-tour.js';

async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes('--quick') || process.env.LOWRANK_DEMO_QUICK === '1';
  const outIndex = argv.indexOf('--out');
  const out = resolve(outIndex >= 0 && argv[outIndex + 1] ? argv[outIndex + 1] : 'report');
  const { failed } = await runTour({ out, quick }, process.stdout);
  if (failed.length) {
    process.stderr.write(`\nDEMO FAILED (see the table above):\n${failed.map((f) => `  ${f}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
