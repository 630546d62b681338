import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { camel } from './option-spec.js';
import { CliConfigError } from './errors.js';

/**
 * Reads a JSON or YAML config file into camelCase option values. Keys may be
 * written kebab-case (`batch-size`) or camelCase (`batchSize`). A key no
 * command knows is an error listing the known ones (catches typos).
 */
export async function readConfigFile(path: string, knownKebab: readonly string[]): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CliConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both.
    // Warnings (unknown tags, stringified keys) would go to the process log; the result is validated below anyway.
    value = parseYaml(text, { logLevel: 'error' });
  } catch (e) {
    throw new CliConfigError(`config file ${path} is neither valid JSON nor YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new CliConfigError(`config file ${path} must hold a mapping of option names to values`);
  const known = new Map(knownKebab.map((k) => [camel(k), k]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = camel(k);
    if (!known.has(key)) {
      throw new CliConfigError(`config file ${path}: unknown option '${k}'; known options: ${[...known.values()].sort().join(', ')}`);
    }
    out[key] = v;
  }
  return out;
}
