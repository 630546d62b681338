// Tiny checkpoints' tokenizer files for the chat-data tests: word-level vocabularies and
// chat templates written for these tests from the published formats (ChatML as Qwen2.5 uses it, Llama 3's headers).

/** Qwen2.5-style ChatML: a default system turn when the conversation has none; unknown roles raise. */
export const CHATML_TEMPLATE = `{%- if messages[0].role == 'system' %}
{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- else %}
{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
  {%- if message.role == 'system' and loop.first %}
  {%- elif message.role in ['user', 'assistant', 'system'] %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
  {%- else %}
{{- raise_exception('Unexpected message role: ' + message.role) }}
  {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\\n' }}
{%- endif %}
`;

/** Llama-3-style headers: bos_token first, each turn trimmed and closed by <|eot_id|>. */
export const LLAMA3_TEMPLATE = `{{- bos_token }}
{%- for message in messages %}
{{- '<|start_header_id|>' + message.role + '<|end_header_id|>\\n\\n' + message.content | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
`;

const WORDS = [
  'system', 'user', 'assistant', 'You', 'are', 'a', 'helpful', 'hello', 'hi', 'there', 'how', 'is', 'the', 'sky', 'blue', 'green', 'grass',
  'what', 'colour', 'thanks', 'welcome', 'you', 'ok', 'bye', '.', ',', '?', '!', '\n',
];

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/**
 * A word-level tokenizer.json as the tokenizers library writes one: the
 * specials first (added tokens, split out of any text), then one id per word,
 * newline and punctuation mark; spaces separate words and make no token.
 */
export function wordLevelTokenizer(specials: readonly string[], words: readonly string[] = WORDS): { json: object; vocab: Record<string, number> } {
  const vocab: Record<string, number> = {};
  for (const t of ['<unk>', ...specials, ...words]) vocab[t] = Object.keys(vocab).length;
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['<unk>', ...specials].map((t) => special(vocab[t], t)),
    normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: '\\n|\\w+|[^\\w\\s]' }, behavior: 'Removed', invert: true },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
  return { json, vocab };
}

export const CHATML_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
export const LLAMA3_SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];
