/** What generation and the data pipeline need from a tokenizer. */
export interface TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  /** Token ids of `text`; `addSpecialTokens` adds what the tokenizer's template adds (BOS for LLaMA). */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
}
