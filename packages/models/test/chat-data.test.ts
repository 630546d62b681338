import { describe, expect, it } from 'vitest';
import {
  ChatTemplate,
  ChatTemplateError,
  ChatTemplateMissingError,
  ChatTemplatePrefixError,
  ChatTemplateRenderError,
  DataFormatError,
  HFTokenizer,
  IGNORE_INDEX,
  parseJsonl,
  tokenizeConversation,
  tokenizeExamples,
  type ChatMessage,
} from '../src/index.js';
import { CHATML_SPECIALS, CHATML_TEMPLATE, LLAMA3_SPECIALS, LLAMA3_TEMPLATE, wordLevelTokenizer } from './chat-fixtures.js';

const qwen = () => {
  const { json, vocab } = wordLevelTokenizer(CHATML_SPECIALS);
  // Qwen2.5-Instruct's shape: no bos_token, eos_token <|im_end|>, pad <|endoftext|>; generation_config stops on both.
  const tok = new HFTokenizer(
    json,
    { bos_token: null, eos_token: '<|im_end|>', pad_token: '<|endoftext|>', chat_template: CHATML_TEMPLATE },
    { generation: { bosTokenId: vocab['<|endoftext|>'], eosTokenIds: [vocab['<|im_end|>'], vocab['<|endoftext|>']], padTokenId: null } },
  );
  return { tok, vocab, plain: { vocabSize: tok.vocabSize, bosId: tok.bosId, eosId: tok.eosId, chatTemplate: tok.chatTemplate, stopIds: tok.stopIds, templateVariables: tok.templateVariables, encode: (t: string) => tok.encode(t, { addSpecialTokens: false }) } };
};

const jsonl = (...rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n');

const CONVERSATION: ChatMessage[] = [
  { role: 'user', content: 'hello there' },
  { role: 'assistant', content: 'hi , how are you ?' },
  { role: 'user', content: 'what colour is the sky ?' },
  { role: 'assistant', content: 'the sky is blue .' },
];

/**
 * The expected mask from the ChatML token structure alone: inside a turn
 * opened by `<|im_start|> assistant \n`, every token through its `<|im_end|>` is trained.
 */
function chatmlAssistantMask(ids: readonly number[], vocab: Record<string, number>): boolean[] {
  const mask = ids.map(() => false);
  for (let i = 0; i + 2 < ids.length; i++) {
    if (ids[i] === vocab['<|im_start|>'] && ids[i + 1] === vocab.assistant && ids[i + 2] === vocab['\n']) {
      let j = i + 3;
      while (ids[j] !== vocab['<|im_end|>']) mask[j++] = true;
      mask[j] = true;
    }
  }
  return mask;
}

describe('chat templates through @huggingface/jinja', () => {
  it('renders a Qwen2.5-style ChatML conversation exactly, with the default system turn', () => {
    const t = new ChatTemplate(CHATML_TEMPLATE);
    const expected =
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
      '<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\nhi , how are you ?<|im_end|>\n' +
      '<|im_start|>user\nwhat colour is the sky ?<|im_end|>\n<|im_start|>assistant\nthe sky is blue .<|im_end|>\n';
    expect(t.render(CONVERSATION)).toBe(expected);
    expect(t.render(CONVERSATION.slice(0, 1), { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(t.render([{ role: 'system', content: 'ok' }, CONVERSATION[0]])).toBe('<|im_start|>system\nok<|im_end|>\n<|im_start|>user\nhello there<|im_end|>\n');
  });

  it('a template that does not parse is a ChatTemplateError', () => {
    expect(() => new ChatTemplate('{% for m in messages %}{{ m.content }}')).toThrow(ChatTemplateError);
  });
});

describe('loss mask of a conversation', () => {
  it('covers exactly the assistant tokens (ChatML), checked token by token', () => {
    const { tok, vocab, plain } = qwen();
    const [row] = parseJsonl(jsonl({ messages: CONVERSATION }), 'chat.jsonl');
    const { examples, report } = tokenizeExamples([row], plain, { file: 'chat.jsonl' });
    const { ids, labels } = examples[0];
    const fullIds = tok.encode(new ChatTemplate(CHATML_TEMPLATE).render(CONVERSATION), { addSpecialTokens: false });
    expect(ids).toEqual(fullIds);
    const mask = chatmlAssistantMask(ids, vocab);
    expect(labels).toHaveLength(ids.length);
    for (let i = 0; i < ids.length; i++) expect([i, labels[i]]).toEqual([i, mask[i] ? ids[i] : IGNORE_INDEX]);
    // The trained tokens spell the two replies, each closed by <|im_end|>; the '\n' after it is not trained.
    const trained = ids.filter((_, i) => labels[i] !== IGNORE_INDEX);
    expect(tok.decode(trained)).toBe(tok.decode(tok.encode('hi , how are you ?<|im_end|>the sky is blue .<|im_end|>', { addSpecialTokens: false })));
    expect(trained).toHaveLength(6 + 1 + 5 + 1);
    expect(report).toEqual({ rows: 1, conversations: 1, withoutAssistant: 0, withoutAssistantLines: [], inexactEdges: 0 });
  });

  it('covers exactly the assistant tokens with a Llama-3-style template (bos from an AddedToken, eos list from generation_config)', () => {
    const { json, vocab } = wordLevelTokenizer(LLAMA3_SPECIALS);
    const tok = new HFTokenizer(
      json,
      { bos_token: { __type: 'AddedToken', content: '<|begin_of_text|>', special: true }, eos_token: { content: '<|eot_id|>' }, chat_template: LLAMA3_TEMPLATE },
      { generation: { bosTokenId: vocab['<|begin_of_text|>'], eosTokenIds: [vocab['<|end_of_text|>'], vocab['<|eot_id|>']], padTokenId: null } },
    );
    expect([tok.bosId, tok.eosId]).toEqual([vocab['<|begin_of_text|>'], vocab['<|eot_id|>']]);
    expect(tok.stopIds).toEqual([vocab['<|eot_id|>'], vocab['<|end_of_text|>']]);
    const messages = [{ role: 'system', content: 'ok' }, ...CONVERSATION.map((m) => ({ ...m, content: ` ${m.content} ` }))];
    const ex = tokenizeConversation(messages, 3, new ChatTemplate(LLAMA3_TEMPLATE, tok.templateVariables), { encode: (t) => tok.encode(t, { addSpecialTokens: false }), stopIds: tok.stopIds }, 'assistant');
    expect(ex.ids[0]).toBe(vocab['<|begin_of_text|>']);
    // Independently: after <|start_header_id|> assistant <|end_header_id|> \n \n, everything through <|eot_id|>.
    const expected = ex.ids.map(() => false);
    for (let i = 0; i + 4 < ex.ids.length; i++) {
      const head = ex.ids.slice(i, i + 5);
      if (head.join() === [vocab['<|start_header_id|>'], vocab.assistant, vocab['<|end_header_id|>'], vocab['\n'], vocab['\n']].join()) {
        let j = i + 5;
        while (ex.ids[j] !== vocab['<|eot_id|>']) expected[j++] = true;
        expected[j] = true;
      }
    }
    expect(ex.labels).toEqual(ex.ids.map((id, i) => (expected[i] ? id : IGNORE_INDEX)));
    expect([ex.assistantTurns, ex.trainedTokens, ex.inexactEdges]).toEqual([2, 6 + 1 + 5 + 1, 0]);
  });

  it("trainOn 'all' trains every token of the rendering", () => {
    const { plain } = qwen();
    const { examples } = tokenizeExamples(parseJsonl(jsonl({ messages: CONVERSATION })), plain, { trainOn: 'all' });
    expect(examples[0].labels).toEqual(examples[0].ids);
  });

  it('a token that straddles a span edge is counted as assistant output, and reported', () => {
    // BPE merges "a" + "b" into one token across the user/assistant edge of a template with no separators.
    const json = {
      version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab: { a: 0, b: 1, c: 2, ab: 3 }, merges: ['a b'] },
    };
    const tok = new HFTokenizer(json, {});
    const template = new ChatTemplate('{% for m in messages %}{{ m.content }}{% endfor %}');
    const ex = tokenizeConversation([{ role: 'user', content: 'ca' }, { role: 'assistant', content: 'bc' }], 1, template, { encode: (t) => tok.encode(t, { addSpecialTokens: false }), stopIds: [] }, 'assistant');
    expect(ex.ids).toEqual([2, 3, 2]);
    expect(ex.labels).toEqual([IGNORE_INDEX, 3, 2]);
    expect(ex.inexactEdges).toBe(1);
  });
});

describe('prompt/completion rows and mixed files', () => {
  it('puts the loss on the completion and its eos; all puts it everywhere', () => {
    const { tok, vocab, plain } = qwen();
    const rows = parseJsonl(jsonl({ prompt: 'hello there', completion: 'hi .' }));
    const [e] = tokenizeExamples(rows, plain).examples;
    expect(e.ids).toEqual([vocab.hello, vocab.there, vocab.hi, vocab['.'], vocab['<|im_end|>']]);
    expect(e.labels).toEqual([IGNORE_INDEX, IGNORE_INDEX, vocab.hi, vocab['.'], vocab['<|im_end|>']]);
    expect(tok.bosId).toBeNull();
    expect(tokenizeExamples(rows, plain, { trainOn: 'all' }).examples[0].labels).toEqual(e.ids);
  });

  it("conversational prompt/completion (TRL's lists of turns): only the completion's assistant turns are trained", () => {
    const { vocab, plain } = qwen();
    const row = { prompt: CONVERSATION.slice(0, 3), completion: CONVERSATION.slice(3) };
    const [parsed] = parseJsonl(jsonl(row), 'pc.jsonl');
    expect(parsed).toEqual({ kind: 'messages', messages: CONVERSATION, promptTurns: 3, line: 1 });
    const { examples } = tokenizeExamples([parsed], plain);
    const [whole] = tokenizeExamples(parseJsonl(jsonl({ messages: CONVERSATION })), plain).examples;
    expect(examples[0].ids).toEqual(whole.ids);
    // The conversation's mask without its first reply: the last <|im_start|> assistant turn only.
    const lastOpen = whole.ids.lastIndexOf(vocab['<|im_start|>']);
    expect(examples[0].labels).toEqual(whole.labels.map((l, i) => (i > lastOpen ? l : IGNORE_INDEX)));
    expect(examples[0].labels.filter((l) => l !== IGNORE_INDEX)).toHaveLength(5 + 1);
    expect(() => parseJsonl(jsonl({ prompt: CONVERSATION.slice(0, 1), completion: [{ role: 'assistant' }] }), 'pc.jsonl')).toThrow(/^pc\.jsonl:1: "completion"\[0\]\.content must be a string/);
  });

  it('counts and leaves out conversations with no assistant turn, by line', () => {
    const { plain } = qwen();
    const text = [jsonl({ messages: CONVERSATION }), jsonl({ messages: [{ role: 'user', content: 'hi' }] }), '', jsonl({ text: 'hello' }), jsonl({ messages: [{ role: 'system', content: 'ok' }, { role: 'user', content: 'bye' }] })].join('\n');
    const { examples, report } = tokenizeExamples(parseJsonl(text, 'mix.jsonl'), plain, { file: 'mix.jsonl' });
    expect(examples.map((e) => e.line)).toEqual([1, 4]);
    expect(report).toMatchObject({ rows: 4, conversations: 3, withoutAssistant: 2, withoutAssistantLines: [2, 5] });
    // Under 'all' they are kept: every token of them is trained.
    expect(tokenizeExamples(parseJsonl(text), plain, { trainOn: 'all' }).examples).toHaveLength(4);
  });
});

describe('errors name the row', () => {
  const { plain } = qwen();

  it('a template that raises names the file, the 1-based line and the template error', () => {
    const text = [jsonl({ messages: CONVERSATION }), jsonl({ messages: [{ role: 'tool', content: 'hi' }, { role: 'assistant', content: 'ok' }] })].join('\n');
    const run = () => tokenizeExamples(parseJsonl(text, 'bad.jsonl'), plain, { file: 'bad.jsonl' });
    expect(run).toThrow(ChatTemplateRenderError);
    expect(run).toThrow(/^bad\.jsonl:2: the chat template failed to render this conversation: Unexpected message role: tool$/);
  });

  it('a template whose prefix rendering is not a prefix of the full rendering is a ChatTemplatePrefixError', () => {
    // Marks the final turn differently, as templates that drop reasoning from past turns do.
    const tpl = "{% for m in messages %}{{ m.role + ': ' + m.content }}{% if loop.last %} bye{% endif %}{{ '\\n' }}{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";
    const { json } = wordLevelTokenizer(CHATML_SPECIALS, ['user', 'assistant', ':', 'hello', 'hi', 'bye', '\n']);
    const tok = new HFTokenizer(json, { chat_template: tpl });
    const enc = { vocabSize: tok.vocabSize, chatTemplate: tok.chatTemplate, encode: (t: string) => tok.encode(t, { addSpecialTokens: false }) };
    const rows = parseJsonl('\n' + jsonl({ messages: [{ role: 'user', content: 'hello' }, { role: 'assistant', content: 'hi' }, { role: 'user', content: 'hello' }] }), 'p.jsonl');
    expect(() => tokenizeExamples(rows, enc, { file: 'p.jsonl' })).toThrow(ChatTemplatePrefixError);
    expect(() => tokenizeExamples(rows, enc, { file: 'p.jsonl' })).toThrow(/^p\.jsonl:2: cannot locate assistant turn 1 .*not a prefix/);
    expect(tokenizeExamples(rows, enc, { trainOn: 'all' }).examples).toHaveLength(1);
  });

  it('a conversation row without a chat template, or mixing formats, or malformed, is a typed error with its line', () => {
    const noTemplate = { ...plain, chatTemplate: null };
    expect(() => tokenizeExamples(parseJsonl(jsonl({ text: 'hi' }, { messages: CONVERSATION }), 'n.jsonl'), noTemplate, { file: 'n.jsonl' })).toThrow(ChatTemplateMissingError);
    expect(() => tokenizeExamples(parseJsonl(jsonl({ text: 'hi' }, { messages: CONVERSATION }), 'n.jsonl'), noTemplate, { file: 'n.jsonl' })).toThrow(/^n\.jsonl:2: a \{"messages"\} row needs/);
    const cases: [string, RegExp][] = [
      [jsonl({ messages: CONVERSATION, prompt: 'a', completion: 'b' }), /^f\.jsonl:1: row has "messages" and also "prompt", "completion"/],
      [jsonl({ question: 'a' }), /^f\.jsonl:1: row has fields \["question"\]/],
      [jsonl({ messages: [] }), /^f\.jsonl:1: "messages" must be a non-empty array/],
      [jsonl({ messages: [{ role: 'user' }] }), /^f\.jsonl:1: "messages"\[0\]\.content must be a string/],
      [jsonl({ messages: [{ content: 'x' }] }), /^f\.jsonl:1: "messages"\[0\]\.role must be a non-empty string/],
    ];
    for (const [text, msg] of cases) {
      expect(() => parseJsonl(text, 'f.jsonl')).toThrow(DataFormatError);
      expect(() => parseJsonl(text, 'f.jsonl')).toThrow(msg);
    }
  });
});
