import { Template } from '@huggingface/jinja';
import { ChatTemplateError } from './errors.js';
import type { ChatMessage } from './rows.js';

export interface RenderOptions {
  /** Append the header that opens an assistant turn (what the model continues from). */
  readonly addGenerationPrompt?: boolean;
}

/**
 * A checkpoint's Jinja chat template, run by @huggingface/jinja with the
 * variables transformers' apply_chat_template passes: messages,
 * add_generation_prompt and the special-token strings (bos_token ...).
 * The library trims blocks and strips their leading spaces as transformers' Jinja environment does.
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly variables: Readonly<Record<string, unknown>> = {},
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ChatTemplateError(`the chat template does not parse as Jinja: ${(e as Error).message}; fix "chat_template" in tokenizer_config.json (or chat_template.jinja)`);
    }
  }

  /** Renders a conversation; a template error (raise_exception included) propagates as the library threw it. */
  render(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    // Copies: a template must not be able to change the caller's rows.
    return this.template.render({ ...this.variables, messages: messages.map((m) => ({ ...m })), add_generation_prompt: opts.addGenerationPrompt ?? false });
  }
}
