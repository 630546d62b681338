import { CliOptionError } from './errors.js';

/** How an option's text becomes a value, and what it allows. */
export type OptionKind =
  | { readonly type: 'string' }
  | { readonly type: 'bool' }
  | { readonly type: 'int'; readonly min?: number; readonly max?: number }
  | { readonly type: 'number'; readonly min?: number; readonly max?: number; readonly exclusiveMin?: boolean; readonly exclusiveMax?: boolean }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'list' }
  | { readonly type: 'custom'; readonly allowed: string; readonly parse: (text: string) => unknown };

export type OptionValue = string | number | boolean | readonly string[] | unknown;

export interface OptionSpec {
  /** Kebab-case name: the flag is `--<name>`; configs may also use camelCase. */
  readonly name: string;
  readonly kind: OptionKind;
  readonly description: string;
  readonly default?: OptionValue;
  readonly required?: boolean;
  /** Placeholder in --help (`--lr <X>`). */
  readonly arg?: string;
}

export function allowedText(kind: OptionKind): string {
  switch (kind.type) {
    case 'string':
      return 'a non-empty string';
    case 'bool':
      return 'true or false';
    case 'int':
      return `an integer${kind.min !== undefined ? ` >= ${kind.min}` : ''}${kind.max !== undefined ? ` <= ${kind.max}` : ''}`;
    case 'number': {
      const lo = kind.min !== undefined ? ` ${kind.exclusiveMin ? '>' : '>='} ${kind.min}` : '';
      const hi = kind.max !== undefined ? ` ${kind.exclusiveMax ? '<' : '<='} ${kind.max}` : '';
      return `a number${lo}${lo && hi ? ' and' : ''}${hi}`;
    }
    case 'enum':
      return kind.values.join(', ');
    case 'list':
      return 'a comma-separated list of names';
    case 'custom':
      return kind.allowed;
  }
}

/** Parses and checks one option value (from text on the command line, or any JSON/YAML value from a config). */
export function parseOption(spec: OptionSpec, raw: unknown, source: string): unknown {
  const fail = (): never => {
    throw new CliOptionError(spec.name, raw, allowedText(spec.kind), source);
  };
  const k = spec.kind;
  switch (k.type) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') fail();
      return raw;
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      return fail();
    case 'int':
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) fail();
      if (k.type === 'int' && !Number.isInteger(n)) fail();
      if (k.min !== undefined && (n < k.min || (k.type === 'number' && k.exclusiveMin && n === k.min))) fail();
      if (k.max !== undefined && (n > k.max || (k.type === 'number' && k.exclusiveMax && n === k.max))) fail();
      return n;
    }
    case 'enum':
      if (typeof raw !== 'string' || !k.values.includes(raw)) fail();
      return raw;
    case 'list': {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : fail();
      const names = (items as unknown[]).map((x) => (typeof x === 'string' ? x.trim() : fail()));
      if (names.length === 0 || names.some((x) => x === '')) fail();
      return names;
    }
    case 'custom':
      if (typeof raw !== 'string' && typeof raw !== 'number') fail();
      try {
        return k.parse(String(raw));
      } catch {
        return fail();
      }
  }
}

export const camel = (kebab: string): string => kebab.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Merges command-line values over config-file values over defaults, parsing
 * and checking each; names a missing required option. Keys come back camelCase.
 */
export function resolveOptions(
  specs: readonly OptionSpec[],
  cli: Readonly<Record<string, unknown>>,
  config: Readonly<Record<string, unknown>>,
  configSource = 'config file',
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of specs) {
    const key = camel(s.name);
    if (cli[key] !== undefined) out[key] = parseOption(s, cli[key], 'command line');
    else if (config[key] !== undefined) out[key] = parseOption(s, config[key], configSource);
    else if (s.default !== undefined) out[key] = s.default;
    else if (s.required) throw new CliOptionError(s.name, undefined, `${allowedText(s.kind)} (this option is required)`, 'command line or config file');
  }
  return out;
}
