import { LowrankError } from '@lowrank/core';

/** A dataset row that cannot be used, located by file and line. */
export class DataFormatError extends LowrankError {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
  }
}

/** A dataset, split or batch setting that leaves nothing to train or evaluate on. */
export class DatasetError extends LowrankError {}

/** A chat template that does not parse as Jinja. */
export class ChatTemplateError extends LowrankError {}

/** A conversation row needs a chat template, and the tokenizer has none. */
export class ChatTemplateMissingError extends DataFormatError {
  constructor(file: string, line: number) {
    super(
      file,
      line,
      'a {"messages"} row needs the model\'s chat template, and its tokenizer has none (no "chat_template" in tokenizer_config.json, no chat_template.jinja); ' +
        'use an instruct/chat checkpoint, add its template, or write {"prompt","completion"} rows',
    );
  }
}

/** The chat template raised (or failed) while rendering one row. */
export class ChatTemplateRenderError extends DataFormatError {
  constructor(
    file: string,
    line: number,
    readonly templateError: string,
  ) {
    super(file, line, `the chat template failed to render this conversation: ${templateError}`);
  }
}

/**
 * Rendering the conversation up to an assistant turn is not a prefix of
 * rendering the whole conversation (templates that rewrite earlier turns once
 * later ones exist), so the assistant tokens cannot be located.
 */
export class ChatTemplatePrefixError extends DataFormatError {
  constructor(
    file: string,
    line: number,
    readonly turn: number,
    detail: string,
  ) {
    super(
      file,
      line,
      `cannot locate assistant turn ${turn} (message index) in the rendered conversation: ${detail}. ` +
        'The template renders earlier turns differently once later turns exist; train with --train-on all, or split the conversation into one row per assistant turn',
    );
  }
}
