import type { ChatTemplate } from './chat-template.js';
import { ChatTemplatePrefixError, ChatTemplateRenderError } from './errors.js';
import type { ChatMessage } from './rows.js';
import { IGNORE_INDEX, type TokenizedExample } from './tokenize.js';

/** Which tokens carry the loss: what the model should produce (assistant turns, completions), or every token. */
export type TrainOn = 'assistant' | 'all';
export const TRAIN_ON: readonly TrainOn[] = ['assistant', 'all'];

/** What rendering a conversation into training tokens needs from a tokenizer. */
export interface ChatEncoder {
  /** Ids of rendered template text: special-token strings in it map to their ids and nothing is added around it. */
  encode(text: string): readonly number[];
  /** Ids that end a generation; an assistant span ends at its last one. */
  readonly stopIds: readonly number[];
}

export interface ConversationExample extends TokenizedExample {
  /** Assistant turns that are targets (those after a conversational prompt). */
  readonly assistantTurns: number;
  /** Tokens labelled as assistant output (all tokens under trainOn 'all'). */
  readonly trainedTokens: number;
  /** Span edges that fell inside a token; the straddling token was counted as assistant output. */
  readonly inexactEdges: number;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * Renders a conversation with the chat template and labels its tokens.
 *
 * Assistant spans are found by rendering, for each assistant turn k,
 * `messages[0:k]` with add_generation_prompt (text A) and `messages[0:k+1]`
 * without (text B): the turn is the text between |A| and |B| of the full
 * rendering. This needs A to be a prefix of B and B a prefix of the full
 * rendering; a template that rewrites earlier turns once later ones exist
 * breaks that, and the row raises ChatTemplatePrefixError rather than get a
 * wrong mask. Text offsets become token offsets by tokenizing the text before
 * the edge: when its ids are a prefix of the full ids the edge is exact;
 * otherwise a token straddles it and is counted as assistant output (edges
 * at special tokens, the usual case, are always exact). A span is cut after
 * its last stop token (`<|im_end|>`, `<|eot_id|>`), so separators the
 * template writes after the end of turn carry no loss.
 */
export function tokenizeConversation(
  messages: readonly ChatMessage[],
  line: number,
  template: ChatTemplate,
  enc: ChatEncoder,
  trainOn: TrainOn,
  file = '<data>',
  promptTurns = 0,
): ConversationExample {
  const render = (msgs: readonly ChatMessage[], addGenerationPrompt: boolean): string => {
    try {
      return template.render(msgs, { addGenerationPrompt });
    } catch (e) {
      throw new ChatTemplateRenderError(file, line, e instanceof Error ? e.message : String(e));
    }
  };
  const full = render(messages, false);
  const ids = [...enc.encode(full)];
  // Assistant turns inside a conversational prompt are context, not targets.
  const turns = messages.flatMap((m, i) => (m.role === 'assistant' && i >= promptTurns ? [i] : []));
  if (trainOn === 'all') return { ids, labels: [...ids], line, assistantTurns: turns.length, trainedTokens: ids.length, inexactEdges: 0 };

  const labels: number[] = ids.map(() => IGNORE_INDEX);
  const stops = new Set(enc.stopIds);
  let trainedTokens = 0;
  let inexactEdges = 0;
  // The token index of text offset p; `side` says which way a straddling token goes (into the span).
  const tokenEdge = (p: number, side: 'start' | 'end'): number => {
    const before = enc.encode(full.slice(0, p));
    const l = commonPrefix(before, ids);
    if (l === before.length) return l;
    inexactEdges++;
    return side === 'start' ? l : Math.min(l + 1, ids.length);
  };
  for (const k of turns) {
    const opened = render(messages.slice(0, k), true);
    const through = render(messages.slice(0, k + 1), false);
    if (!through.startsWith(opened)) {
      throw new ChatTemplatePrefixError(file, line, k, 'the conversation before it, rendered with add_generation_prompt, is not a prefix of the conversation through it');
    }
    if (!full.startsWith(through)) throw new ChatTemplatePrefixError(file, line, k, 'the conversation through it is not a prefix of the whole conversation');
    if (through.length === opened.length) throw new ChatTemplatePrefixError(file, line, k, 'the template renders the turn as no text');
    const start = tokenEdge(opened.length, 'start');
    let end = tokenEdge(through.length, 'end');
    for (let j = end - 1; j >= start; j--) {
      if (stops.has(ids[j])) {
        end = j + 1;
        break;
      }
    }
    for (let j = start; j < end; j++) {
      if (labels[j] === IGNORE_INDEX) trainedTokens++;
      labels[j] = ids[j];
    }
  }
  return { ids, labels, line, assistantTurns: turns.length, trainedTokens, inexactEdges };
}
