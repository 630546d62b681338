// A chat fine-tune through the CLI: a tiny Qwen2-shaped checkpoint whose tokenizer
// files are shaped as a Qwen2.5-Instruct model's (ChatML template, <|im_end|> as eos,
// generation_config stopping on two ids), trained on {"messages"} rows.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createModel, IGNORE_INDEX, loadTokenizer, parseConfig, saveModel } from '@lowrank/models';
import { readSequences } from './runtime/dataset.js';
import { jsonEvents, runCli, tempDir } from './test-support.js';

/** Qwen2.5-style ChatML written for this test: a default system turn when none is given; unknown roles raise. */
const CHATML = `{%- if messages[0].role == 'system' %}
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

const COLOURS: Record<string, string> = { sky: 'blue', grass: 'green', sun: 'yellow', snow: 'white', coal: 'black', blood: 'red', sea: 'blue', leaf: 'green' };
const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
const WORDS = ['system', 'user', 'assistant', 'You', 'are', 'a', 'helpful', 'what', 'which', 'colour', 'is', 'the', 'and', 'thanks', 'welcome', 'you', ...new Set([...Object.keys(COLOURS), ...Object.values(COLOURS)]), '.', '?', '\n'];

/** A word-level tokenizer.json (specials as added tokens; spaces separate words and make no token). */
function tokenizerJson(): { json: object; vocab: Record<string, number> } {
  const vocab: Record<string, number> = {};
  for (const t of ['<unk>', ...SPECIALS, ...WORDS]) vocab[t] = Object.keys(vocab).length;
  const special = (t: string) => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    vocab,
    json: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: ['<unk>', ...SPECIALS].map(special),
      normalizer: null,
      pre_tokenizer: { type: 'Split', pattern: { Regex: '\\n|\\w+|[^\\w\\s]' }, behavior: 'Removed', invert: true },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
    },
  };
}

/** config.json, seeded weights, tokenizer.json, tokenizer_config.json and generation_config.json as a Qwen2.5-Instruct directory holds them. */
async function writeChatModel(dir: string): Promise<Record<string, number>> {
  const { json, vocab } = tokenizerJson();
  // Qwen2.5-0.5B-Instruct's config.json fields, shrunk.
  const config = parseConfig({
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    vocab_size: Object.keys(vocab).length,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    hidden_act: 'silu',
    max_position_embeddings: 128,
    max_window_layers: 2,
    use_sliding_window: false,
    sliding_window: 128,
    attention_dropout: 0.0,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    tie_word_embeddings: true,
    use_cache: true,
    // At the default 0.02 a 64-wide random model attends almost uniformly and LoRA crawls (measured 3.62 -> 2.69 in 200 steps).
    initializer_range: 0.1,
    bos_token_id: vocab['<|endoftext|>'],
    eos_token_id: vocab['<|im_end|>'],
  });
  await saveModel(dir, createModel(config, 5));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  const added = (t: string) => ({ __type: 'AddedToken', content: t, lstrip: false, rstrip: false, normalized: false, single_word: false, special: true });
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ bos_token: null, eos_token: added('<|im_end|>'), pad_token: '<|endoftext|>', additional_special_tokens: ['<|im_start|>', '<|im_end|>'], chat_template: CHATML, model_max_length: 128 }),
  );
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: vocab['<|endoftext|>'], eos_token_id: [vocab['<|im_end|>'], vocab['<|endoftext|>']], pad_token_id: vocab['<|endoftext|>'] }));
  return vocab;
}

/** Conversations asking for a colour; some with a system turn, some two-turn, `silent` rows with no assistant turn at all. */
function writeConversations(file: string, rows: number, seed: number, silent = 0): void {
  let s = seed;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const things = Object.keys(COLOURS);
  const pick = () => things[Math.floor(rand() * things.length)];
  const qa = (t: string) => [
    { role: 'user', content: `${rand() < 0.5 ? 'what' : 'which'} colour is the ${t} ?` },
    { role: 'assistant', content: `the ${t} is ${COLOURS[t]} .` },
  ];
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const r = rand();
    const messages = r < 0.2 ? [{ role: 'system', content: 'You are a helpful assistant .' }, ...qa(pick())] : r < 0.35 ? [...qa(pick()), ...qa(pick())] : qa(pick());
    lines.push(JSON.stringify({ messages }));
  }
  for (let i = 0; i < silent; i++) lines.splice(3 + i * 7, 0, JSON.stringify({ messages: [{ role: 'user', content: `what colour is the ${pick()} ?` }] }));
  writeFileSync(file, lines.join('\n') + '\n');
}

/** The ChatML structure alone: tokens after `<|im_start|> assistant \n`, through the turn's <|im_end|>. */
function expectedAssistantMask(ids: readonly number[], vocab: Record<string, number>): boolean[] {
  const mask = ids.map(() => false);
  for (let i = 0; i + 2 < ids.length; i++) {
    if (ids[i] === vocab['<|im_start|>'] && ids[i + 1] === vocab.assistant && ids[i + 2] === vocab['\n']) {
      for (let j = i + 3; j < ids.length; j++) {
        mask[j] = true;
        if (ids[j] === vocab['<|im_end|>']) break;
      }
    }
  }
  return mask;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Held-out loss (assistant tokens only) must fall by at least this much; measured 3.544 -> 0.082 on backend-cpu. */
const MIN_DROP = 3;
const SEQ_LEN = '56';

describe('lowrank train on {"messages"} rows with the checkpoint\'s chat template', () => {
  const dir = tempDir('chat');
  dirs.push(dir);
  const model = join(dir, 'model');
  const train = join(dir, 'train.jsonl');
  const heldOut = join(dir, 'held-out.jsonl');
  const out = join(dir, 'adapter');
  let vocab: Record<string, number>;

  it('masks exactly the assistant tokens of a rendered row, token by token', async () => {
    vocab = await writeChatModel(model);
    writeConversations(train, 240, 11, 3);
    writeConversations(heldOut, 40, 97);
    const tok = await loadTokenizer(model);
    const { sequences, note } = await readSequences(train, tok, { seqLen: Number(SEQ_LEN), layout: 'padding' });
    expect(note?.text).toMatch(/3 of 243 conversations have no assistant turn and were left out under --train-on assistant \(lines 4, 11, 18\)/);
    // A two-turn row: its sequence index counts only the rows kept (the three without an assistant turn are left out).
    const kept = readFileSync(train, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { messages: { role: string; content: string }[] }).messages).filter((m) => m.some((t) => t.role === 'assistant'));
    const index = kept.findIndex((m) => m.filter((t) => t.role === 'assistant').length === 2);
    const rendered = tok.encode(renderChatml(kept[index]), { addSpecialTokens: false });
    expect(rendered.length).toBeLessThanOrEqual(Number(SEQ_LEN));
    const seq = sequences[index];
    const ids = Array.from(seq.inputIds.slice(0, rendered.length));
    expect(ids).toEqual(rendered);
    const mask = expectedAssistantMask(ids, vocab);
    for (let i = 0; i < ids.length; i++) expect([i, seq.labels[i]]).toEqual([i, mask[i] ? ids[i] : IGNORE_INDEX]);
    expect(Array.from(seq.labels.slice(rendered.length)).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(mask.filter(Boolean)).toHaveLength(2 * 6);
  });

  it(`fine-tunes until the held-out loss on assistant tokens falls by more than ${MIN_DROP}, then answers with --chat`, async () => {
    const r = await runCli([
      'train', '--model', model, '--data', train, '--validation-data', heldOut, '--out', out, '--steps', '200', '--batch-size', '8', '--seq-len', SEQ_LEN,
      '--lr', '0.005', '--r', '8', '--target', 'all-linear', '--seed', '2', '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = jsonEvents(r.stdout);
    const left = events.find((e) => e.event === 'note' && e.conversationsWithoutAssistant !== undefined);
    expect(left).toMatchObject({ conversationsWithoutAssistant: 3, lines: [4, 11, 18] });
    const done = events.find((e) => e.event === 'done')!;
    const before = done.initialEvalLoss as number;
    const after = done.finalEvalLoss as number;
    console.log(`chat fine-tune: held-out assistant-token loss ${before.toFixed(4)} -> ${after.toFixed(4)} in ${(done.seconds as number).toFixed(1)}s`);
    expect(before).toBeGreaterThan(Math.log(Object.keys(vocab).length) - 0.5);
    expect(before - after).toBeGreaterThan(MIN_DROP);

    const g = await runCli(['generate', '--model', model, '--adapter', out, '--chat', '--prompt', 'what colour is the grass ?', '--max-new-tokens', '10', '--json']);
    expect(g.stderr).toBe('');
    const gen = JSON.parse(g.stdout) as { text: string; tokens: number[]; stopReason: string };
    console.log(`generate --chat: ${JSON.stringify(gen.text)} (${gen.stopReason})`);
    expect(gen.stopReason).toBe('stop');
    expect(gen.tokens).toEqual(['the', 'grass', 'is', 'green', '.', '<|im_end|>'].map((w) => vocab[w]));
    // Without --chat the same words are plain text the model was never trained to continue.
    const plain = JSON.parse((await runCli(['generate', '--model', model, '--adapter', out, '--prompt', 'what colour is the grass ?', '--max-new-tokens', '6', '--json'])).stdout) as { tokens: number[] };
    expect(plain.tokens).not.toEqual(gen.tokens);
    const withSystem = await runCli(['generate', '--model', model, '--adapter', out, '--chat', '--system', 'You are a helpful assistant .', '--prompt', 'what colour is the coal ?', '--json']);
    expect((JSON.parse(withSystem.stdout) as { tokens: number[] }).tokens).toEqual(['the', 'coal', 'is', 'black', '.', '<|im_end|>'].map((w) => vocab[w]));
  }, 300_000);

  it('--train-on all and eval agree with the data; --system needs --chat; a model without a template names the row', async () => {
    const all = await runCli(['eval', '--model', model, '--data', heldOut, '--seq-len', SEQ_LEN, '--train-on', 'all', '--json']);
    const assistant = await runCli(['eval', '--model', model, '--data', heldOut, '--seq-len', SEQ_LEN, '--json']);
    const [a, b] = [JSON.parse(all.stdout), JSON.parse(assistant.stdout)];
    // Every held-out row: ChatML system turn (11 tokens) + user (11) + assistant (10) at least; 'all' counts them all.
    expect(a.tokens).toBeGreaterThan(3 * b.tokens);
    const silent = join(dir, 'silent.jsonl');
    writeFileSync(silent, JSON.stringify({ messages: [{ role: 'user', content: 'thanks' }] }) + '\n');
    const none = await runCli(['train', '--model', model, '--data', silent, '--out', join(dir, 'y'), '--steps', '1']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`${silent}: 1 of 1 conversations have no assistant turn and were left out under --train-on assistant (lines 1); use --train-on all to train on them; nothing is left to train on`);
    const sys = await runCli(['generate', '--model', model, '--system', 'be brief', '--prompt', 'hi']);
    expect(sys.code).toBe(2);
    expect(sys.stderr).toMatch(/--system .*together with --chat/);
    const noTemplate = await runCli(['train', '--model', 'llama-tiny', '--data', train, '--out', join(dir, 'x'), '--steps', '1']);
    expect(noTemplate.code).toBe(1);
    expect(noTemplate.stderr).toContain(`${train}:1: a {"messages"} row needs the model's chat template`);
    const chat = await runCli(['generate', '--model', 'llama-tiny', '--chat', '--prompt', 'hi']);
    expect(chat.code).toBe(1);
    expect(chat.stderr).toMatch(/--chat: llama-tiny has no chat template/);
  }, 120_000);
});

/** The ChatML text of a conversation, written out by hand from the format (default system turn first). */
function renderChatml(messages: readonly { role: string; content: string }[]): string {
  const turns = messages[0].role === 'system' ? messages : [{ role: 'system', content: 'You are a helpful assistant.' }, ...messages];
  return turns.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
}
