// The pretraining corpus: Debian's `fortunes` data (English quotations, jokes and definitions; plain text).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LowrankError } from '@lowrank/core';

/** Where Debian's `fortunes` and `fortunes-min` packages put their files. */
export const FORTUNES_DIR = '/usr/share/games/fortunes';

/** Files that are pictures rather than prose, or not English: left out of the corpus. */
const SKIPPED = new Set(['ascii-art']);

export class CorpusMissingError extends LowrankError {}

export interface Corpus {
  /** One entry per fortune: whitespace runs collapsed to one space, trimmed. */
  readonly texts: readonly string[];
  /** The files read, in the order read. */
  readonly files: readonly string[];
  /** Characters over all texts. */
  readonly chars: number;
}

/** Splits a fortune file (entries separated by lines holding only `%`) into cleaned texts. */
export function splitFortunes(content: string): string[] {
  return content
    .split(/\r?\n%\r?\n/)
    .map((t) => t.replace(/\s+/g, ' ').trim())
    .filter((t) => t.length >= 8 && !t.includes('%'));
}

/**
 * Reads every prose fortune file in `dir`, sorted by name so the corpus (and
 * its content hash) does not depend on directory order.
 */
export function readFortunes(dir = FORTUNES_DIR): Corpus {
  if (!existsSync(dir)) {
    throw new CorpusMissingError(`the demo's pretraining corpus is missing: ${dir} does not exist. Install Debian's fortune data (as root: apt-get install -y fortunes, or bash scripts/ensure-system-deps.sh)`);
  }
  const files = readdirSync(dir)
    .filter((f) => !f.includes('.') && !SKIPPED.has(f))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
  const texts: string[] = [];
  for (const f of files) texts.push(...splitFortunes(readFileSync(f, 'utf8')));
  if (texts.length < 100) {
    throw new CorpusMissingError(`${dir} holds only ${texts.length} fortunes; the demo needs Debian's full 'fortunes' package (apt-get install -y fortunes)`);
  }
  return { texts, files, chars: texts.reduce((n, t) => n + t.length, 0) };
}
