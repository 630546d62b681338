import type { CheckpointPolicy } from '@lowrank/core';

/** A `--checkpointing` choice: which activations to drop and recompute in the backward pass. */
export type CheckpointingChoice =
  | { readonly kind: 'none' }
  | { readonly kind: 'sqrt' }
  | { readonly kind: 'save-matmuls' }
  | { readonly kind: 'every'; readonly k: number }
  | { readonly kind: 'budget'; readonly bytes: number };

export const CHECKPOINTING_ALLOWED = 'none, sqrt, save-matmuls, every:K (K an integer >= 1), budget:SIZE (bytes, or with KB/MB/GB/KiB/MiB/GiB)';

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** Parses a size such as `512MB`, `1.5GiB` or `1000000` into bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`not a size: ${text}`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!(bytes > 0)) throw new Error(`size must be positive: ${text}`);
  return bytes;
}

export function parseCheckpointing(text: string): CheckpointingChoice {
  if (text === 'none' || text === 'sqrt' || text === 'save-matmuls') return { kind: text };
  const every = /^every:(\d+)$/.exec(text);
  if (every && Number(every[1]) >= 1) return { kind: 'every', k: Number(every[1]) };
  const budget = /^budget:(.+)$/.exec(text);
  if (budget) return { kind: 'budget', bytes: parseSize(budget[1]) };
  throw new Error(`not a checkpointing policy: ${text}`);
}

export function checkpointingText(c: CheckpointingChoice): string {
  return c.kind === 'every' ? `every:${c.k}` : c.kind === 'budget' ? `budget:${c.bytes}` : c.kind;
}

/** The core checkpoint policy of a choice. */
export function toCorePolicy(c: CheckpointingChoice): CheckpointPolicy {
  return c.kind === 'every' ? `every:${c.k}` : c.kind === 'budget' ? { budgetBytes: c.bytes } : c.kind;
}
