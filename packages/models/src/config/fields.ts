import { ConfigError } from '../errors.js';

/** config.json as parsed JSON, before validation. */
export type RawConfig = Readonly<Record<string, unknown>>;

export function optNum(raw: RawConfig, field: string, source: string): number | undefined {
  const v = raw[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(field, `must be a number, got ${JSON.stringify(v)}`, source);
  return v;
}

export function num(raw: RawConfig, field: string, source: string): number {
  const v = optNum(raw, field, source);
  if (v === undefined) throw new ConfigError(field, 'is required but missing', source);
  return v;
}

export function bool(raw: RawConfig, field: string, fallback: boolean, source: string): boolean {
  const v = raw[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new ConfigError(field, `must be true or false, got ${JSON.stringify(v)}`, source);
  return v;
}

export function numOrList(raw: RawConfig, field: string, source: string): number | number[] | null {
  const v = raw[field];
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return [...v];
  throw new ConfigError(field, `must be a token id or a list of ids, got ${JSON.stringify(v)}`, source);
}
