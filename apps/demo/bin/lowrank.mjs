#!/usr/bin/env node
// Runs the built CLI when it exists; in a source checkout, runs the TypeScript
// sources through tsx with the "source" export condition (no build needed).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(fileURLToPath(built))) {
  const { main } = await import(built.href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const entry = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', import.meta.resolve('tsx'), entry, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
}
