/** What generation and the data pipeline need from a tokenizer. */
export interface TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  /** Ids that end a generation (eos_token and generation_config's eos_token_id list); eosId alone when absent. */
  readonly stopIds?: readonly number[];
  /** The checkpoint's Jinja chat template, when it has one. */
  readonly chatTemplate?: string | null;
  /** Variables the chat template may use (bos_token, eos_token, ...). */
  readonly templateVariables?: Readonly<Record<string, string | readonly string[]>>;
  /** Token ids of `text`; `addSpecialTokens` adds what the tokenizer's template adds (BOS for LLaMA). */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
}
