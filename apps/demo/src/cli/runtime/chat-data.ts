import { LowrankError } from '@lowrank/core';
import { ChatTemplate, type ChatMessage, type ExampleReport, type InstructionTokenizer, type TextTokenizer, type TrainOn } from '@lowrank/models';
import { CliOptionError } from '../errors.js';

/** `generate --chat` cannot build its prompt: no chat template, or the template fails on it. */
export class ChatPromptError extends LowrankError {}

/**
 * The tokenizer as the data pipeline sees it: plain ids (the pipeline and the
 * chat template place BOS/EOS themselves), plus the chat template and stop ids.
 */
export function instructionTokenizer(tok: TextTokenizer): InstructionTokenizer {
  return {
    vocabSize: tok.vocabSize,
    bosId: tok.bosId,
    eosId: tok.eosId,
    encode: (t: string) => tok.encode(t, { addSpecialTokens: false }),
    ...(tok.chatTemplate != null ? { chatTemplate: tok.chatTemplate } : {}),
    ...(tok.templateVariables ? { templateVariables: tok.templateVariables } : {}),
    ...(tok.stopIds ? { stopIds: tok.stopIds } : {}),
  };
}

/** What the user should hear about a data file: conversations left out for having no assistant turn. */
export function exampleReportNote(report: ExampleReport, file: string, trainOn: TrainOn): { text: string; fields: Record<string, unknown> } | null {
  if (report.withoutAssistant === 0) return null;
  const lines = report.withoutAssistantLines.join(', ') + (report.withoutAssistant > report.withoutAssistantLines.length ? ', ...' : '');
  return {
    text: `${file}: ${report.withoutAssistant} of ${report.conversations} conversations have no assistant turn and were left out under --train-on ${trainOn} (lines ${lines}); use --train-on all to train on them`,
    fields: { file, conversationsWithoutAssistant: report.withoutAssistant, lines: report.withoutAssistantLines },
  };
}

/** Token ids for `generate --chat`: the prompt as a user turn (after an optional system turn), rendered with add_generation_prompt. */
export function chatPromptIds(tok: TextTokenizer, prompt: string, system: string | undefined, model: string): { ids: number[]; text: string } {
  if (!tok.chatTemplate) {
    throw new ChatPromptError(`--chat: ${model} has no chat template (no "chat_template" in tokenizer_config.json, no chat_template.jinja); drop --chat to continue plain text`);
  }
  const template = new ChatTemplate(tok.chatTemplate, tok.templateVariables ?? {});
  const messages: ChatMessage[] = [...(system !== undefined ? [{ role: 'system', content: system }] : []), { role: 'user', content: prompt }];
  let text: string;
  try {
    text = template.render(messages, { addGenerationPrompt: true });
  } catch (e) {
    throw new ChatPromptError(`--chat: the chat template of ${model} failed to render the prompt: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { ids: tok.encode(text, { addSpecialTokens: false }), text };
}

/** Ids that end a chat reply: the template's end of turn and every eos id. */
export function stopTokenIds(tok: TextTokenizer): number[] {
  return [...new Set([...(tok.stopIds ?? []), ...(tok.eosId !== null ? [tok.eosId] : [])])];
}

/** The prompt ids and stop ids of `lowrank generate`: plain text with the tokenizer's specials, or with --chat a rendered user turn. */
export function generationPrompt(tok: TextTokenizer, a: { model: string; prompt: string; chat?: boolean; system?: string }): { ids: number[]; stopIds: number[] } {
  if (a.system !== undefined && !a.chat) throw new CliOptionError('system', a.system, 'a system prompt together with --chat (plain generation has no turns)');
  const ids = a.chat ? chatPromptIds(tok, a.prompt, a.system, a.model).ids : tok.encode(a.prompt, { addSpecialTokens: true });
  return { ids, stopIds: stopTokenIds(tok) };
}
