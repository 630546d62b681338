// Shared by the *.fuzz.test.ts suites: run counts, seeds and the "loads or fails with our error" check.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LowrankError } from '@lowrank/core';

/**
 * Cases per property. CI runs a bounded default; `LOWRANK_FUZZ_RUNS=20000`
 * (and optionally `LOWRANK_FUZZ_SEED`) runs the long mode locally.
 */
export function fuzzRuns(ciDefault: number): number {
  const env = Number(process.env.LOWRANK_FUZZ_RUNS);
  return Number.isInteger(env) && env > 0 ? env : ciDefault;
}

/** Fixed unless overridden, so a CI failure reproduces exactly. */
export function fuzzSeed(): number {
  const env = Number(process.env.LOWRANK_FUZZ_SEED);
  return Number.isInteger(env) ? env : 20261129;
}

/** A single case running longer than this counts as a hang and fails the property. */
export const CASE_TIMEOUT_MS = 5_000;

/** fast-check parameters for one property: fixed seed, bounded runs, a per-case time limit (no hang). */
export function fuzzParams(ciDefault: number): { seed: number; numRuns: number; endOnFailure: boolean; timeout: number } {
  return { seed: fuzzSeed(), numRuns: fuzzRuns(ciDefault), endOnFailure: true, timeout: CASE_TIMEOUT_MS };
}

/** Time a vitest case may take: grows with the long mode. */
export function fuzzTimeout(ciDefault: number, ciMs: number): number {
  return Math.max(ciMs, (ciMs * fuzzRuns(ciDefault)) / ciDefault);
}

/** The error raised, if any, when `fn` is not allowed to raise anything but a LowrankError. */
export class ForeignErrorEscaped extends Error {
  constructor(readonly original: unknown) {
    super(`a non-lowrank error escaped: ${original instanceof Error ? `${original.constructor.name}: ${original.message}\n${original.stack}` : String(original)}`);
  }
}

/**
 * Runs a parse/load that must either succeed or throw one of OUR typed errors.
 * Returns 'loaded' or the LowrankError; anything else fails the property.
 */
export async function loadsOrTypedError<T>(fn: () => Promise<T> | T): Promise<{ ok: true; value: T } | { ok: false; error: LowrankError }> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    if (e instanceof LowrankError) return { ok: false, error: e };
    throw new ForeignErrorEscaped(e);
  }
}

const created: string[] = [];

/** A fresh temporary directory for one suite's cases; `removeFuzzDirs` deletes them all. */
export function fuzzDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `lowrank-fuzz-${prefix}-`));
  created.push(dir);
  return dir;
}

/** Call from afterAll: thousands of small case files would otherwise stay in the temp directory. */
export function removeFuzzDirs(): void {
  for (const d of created.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Byte-level damage to a valid file: flips, truncation, insertion and overwrite with a chosen u64. */
export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly xor: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'u64'; readonly at: number; readonly value: bigint };

export function applyMutations(src: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(src);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.kind === 'flip' && at < b.length) b[at] ^= m.xor || 1;
    else if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'insert') b = Uint8Array.from([...b.slice(0, at), ...m.bytes, ...b.slice(at)]);
    else if (m.kind === 'u64' && at + 8 <= b.length) new DataView(b.buffer).setBigUint64(at, m.value, true);
  }
  return b;
}
