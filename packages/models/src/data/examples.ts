import { ChatTemplate } from './chat-template.js';
import { tokenizeConversation, type TrainOn } from './chat-tokenize.js';
import { ChatTemplateMissingError } from './errors.js';
import type { DataRow } from './rows.js';
import { tokenizeRow, type DataTokenizer, type TokenizedExample } from './tokenize.js';

/** A data tokenizer that may also carry the checkpoint's chat template and stop tokens. */
export interface InstructionTokenizer extends DataTokenizer {
  readonly chatTemplate?: string | null;
  readonly templateVariables?: Readonly<Record<string, unknown>>;
  readonly stopIds?: readonly number[];
}

export interface ExampleOptions {
  /** Default 'assistant': loss on assistant turns of conversations and on completions of prompt rows. */
  readonly trainOn?: TrainOn;
  /** Named in errors. */
  readonly file?: string;
}

/** What tokenizing a file did, for the user to see. */
export interface ExampleReport {
  readonly rows: number;
  readonly conversations: number;
  /** Conversation rows with no assistant turn under trainOn 'assistant': nothing to learn, so left out. */
  readonly withoutAssistant: number;
  /** Their 1-based lines (the first 20). */
  readonly withoutAssistantLines: readonly number[];
  /** Assistant span edges that fell inside a token (see tokenizeConversation). */
  readonly inexactEdges: number;
}

const LISTED_LINES = 20;

/**
 * Tokenizes dataset rows of any format: conversations through the
 * tokenizer's chat template, the other formats through tokenizeRow.
 * Under trainOn 'all', prompt rows carry the loss on the prompt too.
 */
export function tokenizeExamples(rows: readonly DataRow[], tok: InstructionTokenizer, opts: ExampleOptions = {}): { examples: TokenizedExample[]; report: ExampleReport } {
  const trainOn = opts.trainOn ?? 'assistant';
  const file = opts.file ?? '<data>';
  let template: ChatTemplate | undefined;
  const encoder = { encode: (t: string) => tok.encode(t), stopIds: tok.stopIds ?? (tok.eosId != null ? [tok.eosId] : []) };
  const examples: TokenizedExample[] = [];
  const withoutAssistantLines: number[] = [];
  let conversations = 0;
  let withoutAssistant = 0;
  let inexactEdges = 0;
  for (const row of rows) {
    if (row.kind !== 'messages') {
      const e = tokenizeRow(row, tok, file);
      examples.push(trainOn === 'all' && row.kind === 'prompt' ? { ...e, labels: [...e.ids] } : e);
      continue;
    }
    conversations++;
    if (!template) {
      if (!tok.chatTemplate) throw new ChatTemplateMissingError(file, row.line);
      template = new ChatTemplate(tok.chatTemplate, tok.templateVariables ?? {});
    }
    const c = tokenizeConversation(row.messages, row.line, template, encoder, trainOn, file, row.promptTurns);
    inexactEdges += c.inexactEdges;
    if (trainOn === 'assistant' && c.assistantTurns === 0) {
      withoutAssistant++;
      if (withoutAssistantLines.length < LISTED_LINES) withoutAssistantLines.push(row.line);
      continue;
    }
    examples.push({ ids: c.ids, labels: c.labels, line: c.line });
  }
  return { examples, report: { rows: rows.length, conversations, withoutAssistant, withoutAssistantLines, inexactEdges } };
}
