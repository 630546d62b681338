// Structure checks that run with the tests: core's modules import each other
// without cycles, and exactly one module in the repository traces composite
// expansions (calls an op definition's `expand`).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const coreSrc = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(coreSrc, '../../..');

function sourceFiles(dir: string, skip: (path: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const pending = [dir];
  while (pending.length) {
    const d = pending.pop()!;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name === 'node_modules' || name === 'dist' || name.startsWith('.') || skip(p)) continue;
      if (statSync(p).isDirectory()) pending.push(p);
      else if (/\.(ts|tsx|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
    }
  }
  return out.sort();
}

/**
 * Relative modules a file imports at run time. Type-only imports and exports
 * (`import type`, `export type`, or braces holding only `type` names) are
 * erased by the compiler, so they cannot form a run-time cycle.
 */
export function runtimeImports(file: string, text: string): string[] {
  const out: string[] = [];
  const statement = /(?:^|\n)\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(statement)) {
    const spec = m[4] ?? m[5];
    if (!spec.startsWith('.')) continue;
    if (m[2]) continue;
    const clause = m[3] ?? '';
    const braces = /^\{([\s\S]*)\}$/.exec(clause.trim());
    if (braces) {
      const names = braces[1].split(',').map((n) => n.trim()).filter(Boolean);
      if (names.length > 0 && names.every((n) => n.startsWith('type '))) continue;
    }
    out.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  return out;
}

/** One import cycle (as a closed path of modules), or null: an iterative depth-first search. */
export function findCycle(edges: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  for (const start of edges.keys()) {
    if (state.has(start)) continue;
    const path: string[] = [start];
    const next: number[] = [0];
    state.set(start, 'open');
    while (path.length) {
      const top = path[path.length - 1];
      const targets = edges.get(top) ?? [];
      const k = next[next.length - 1]++;
      if (k === targets.length) {
        state.set(top, 'done');
        path.pop();
        next.pop();
        continue;
      }
      const t = targets[k];
      if (state.get(t) === 'open') return [...path.slice(path.indexOf(t)), t];
      if (state.has(t)) continue;
      state.set(t, 'open');
      path.push(t);
      next.push(0);
    }
  }
  return null;
}

describe('architecture', () => {
  it('the cycle search finds a cycle and says where it is', () => {
    const e = new Map([
      ['a', ['b']],
      ['b', ['c', 'd']],
      ['c', []],
      ['d', ['e']],
      ['e', ['b']],
    ]);
    expect(findCycle(e)).toEqual(['b', 'd', 'e', 'b']);
    e.set('e', []);
    expect(findCycle(e)).toBeNull();
    expect(runtimeImports('/x/a.ts', "import type { T } from './t.js';\nimport { type U } from './u.js';\nimport { v } from './v.js';\nexport * from './w.js';\nimport './x.js';")).toEqual([
      '/x/v.ts',
      '/x/w.ts',
      '/x/x.ts',
    ]);
  });

  it('no import cycle inside core', () => {
    const files = sourceFiles(coreSrc).filter((f) => f.endsWith('.ts') && !/\.test(-support)?\.ts$/.test(f));
    expect(files.length).toBeGreaterThan(50);
    const edges = new Map(files.map((f) => [f, runtimeImports(f, readFileSync(f, 'utf8')).filter((t) => t.startsWith(coreSrc))]));
    const cycle = findCycle(edges);
    expect(cycle && cycle.map((f) => relative(coreSrc, f)).join(' -> '), 'import cycle in core').toBeNull();
  });

  it('op declarations import the thin wrappers in ops/emit.ts, never each other', () => {
    const opsDir = join(coreSrc, 'ops');
    const declarations = sourceFiles(opsDir).filter((f) => f.endsWith('.ts') && !/\.test(-support)?\.ts$/.test(f) && !/\/(emit|registry|op-defs|index)\.ts$/.test(f));
    const offending = declarations.flatMap((f) =>
      runtimeImports(f, readFileSync(f, 'utf8'))
        .filter((t) => t.startsWith(opsDir) && !/\/(emit|registry)\.ts$/.test(t))
        .map((t) => `${relative(coreSrc, f)} imports ${relative(coreSrc, t)}`),
    );
    expect(declarations.length).toBeGreaterThan(10);
    expect(offending).toEqual([]);
  });

  it('exactly one module traces composite expansions', () => {
    // A call of an op definition's `expand` (def.expand(...), def.expand!(...), def.expand?.(...), def['expand'](...)).
    const call = /\.expand\s*(!|\?\.)?\s*\(|\[\s*['"]expand['"]\s*\]\s*(!|\?\.)?\s*\(/;
    const roots = ['packages', 'apps', 'bench'].map((d) => join(repoRoot, d));
    const callers = roots
      .flatMap((r) => sourceFiles(r))
      .filter((f) => f !== fileURLToPath(import.meta.url) && call.test(readFileSync(f, 'utf8')))
      .map((f) => relative(repoRoot, f));
    expect(callers).toEqual(['packages/core/src/graph/expand-composites.ts']);
  });
});
