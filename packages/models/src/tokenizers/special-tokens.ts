/**
 * Special tokens as a Hugging Face checkpoint states them: the strings in
 * tokenizer_config.json (plain, or AddedToken objects `{"content": ...}`) and
 * the ids in generation_config.json (`eos_token_id` may be a list).
 */

/** A token field of tokenizer_config.json. */
export type TokenField = string | { content?: unknown } | null | undefined;

/** The text of a token field, or null when unset. */
export function tokenContent(t: unknown): string | null {
  if (typeof t === 'string') return t;
  if (typeof t === 'object' && t !== null && typeof (t as { content?: unknown }).content === 'string') return (t as { content: string }).content;
  return null;
}

/** The token ids generation_config.json sets. */
export interface GenerationTokenIds {
  readonly bosTokenId: number | null;
  /** Every id that ends a generation (`eos_token_id`, an int or a list). */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
}

const idList = (v: unknown): number[] => (Number.isInteger(v) ? [v as number] : Array.isArray(v) ? v.filter((x): x is number => Number.isInteger(x)) : []);
const oneId = (v: unknown): number | null => (Number.isInteger(v) ? (v as number) : null);

export function parseGenerationTokenIds(raw: Readonly<Record<string, unknown>>): GenerationTokenIds {
  return { bosTokenId: oneId(raw.bos_token_id), eosTokenIds: idList(raw.eos_token_id), padTokenId: oneId(raw.pad_token_id) };
}

/** The fields of tokenizer_config.json that transformers hands to a chat template as variables (its special_tokens_map). */
const TEMPLATE_TOKEN_FIELDS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

export interface SpecialTokens {
  /** What the data pipeline prepends to a text example: the tokenizer's own bos_token, never generation_config's (Qwen sets bos_token null). */
  readonly bosId: number | null;
  /** The tokenizer's eos_token, else the first id of generation_config's eos_token_id. */
  readonly eosId: number | null;
  readonly padId: number | null;
  /** Ids that end generation: eos_token and every generation_config eos_token_id. */
  readonly stopIds: readonly number[];
  /** Variables a chat template may use: bos_token, eos_token, ... as strings, additional_special_tokens as a list. */
  readonly templateVariables: Readonly<Record<string, string | readonly string[]>>;
}

/** Resolves bos/eos/pad from tokenizer_config.json fields, falling back to generation_config.json ids. */
export function resolveSpecialTokens(
  tokenizerConfig: Readonly<Record<string, unknown>>,
  generation: GenerationTokenIds | null,
  tokenToId: (token: string) => number | undefined,
): SpecialTokens {
  const id = (field: string): number | null => {
    const text = tokenContent(tokenizerConfig[field]);
    return text === null ? null : (tokenToId(text) ?? null);
  };
  const eosId = id('eos_token') ?? generation?.eosTokenIds[0] ?? null;
  const stopIds = [...new Set([...(eosId !== null ? [eosId] : []), ...(generation?.eosTokenIds ?? [])])];
  const templateVariables: Record<string, string | readonly string[]> = {};
  for (const f of TEMPLATE_TOKEN_FIELDS) {
    const text = tokenContent(tokenizerConfig[f]);
    if (text !== null) templateVariables[f] = text;
  }
  const extra = tokenizerConfig.additional_special_tokens;
  if (Array.isArray(extra)) templateVariables.additional_special_tokens = extra.map(tokenContent).filter((t): t is string => t !== null);
  return { bosId: id('bos_token'), eosId, padId: id('pad_token') ?? generation?.padTokenId ?? null, stopIds, templateVariables };
}

/**
 * The chat template of tokenizer_config.json: a string, or a list of named
 * templates (`[{"name": "default", "template": ...}, ...]`) of which the
 * default is used, as transformers does without a template name.
 */
export function chatTemplateOf(tokenizerConfig: Readonly<Record<string, unknown>>): string | null {
  const t = tokenizerConfig.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    for (const entry of t) {
      const e = entry as { name?: unknown; template?: unknown };
      if (e?.name === 'default' && typeof e.template === 'string') return e.template;
    }
  }
  return null;
}
