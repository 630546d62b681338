import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chatTemplateOf, loadTokenizer, parseGenerationTokenIds, resolveSpecialTokens, tokenContent } from '../src/index.js';
import { CHATML_SPECIALS, CHATML_TEMPLATE, wordLevelTokenizer } from './chat-fixtures.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function modelDir(files: Record<string, string | object>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lowrank-special-'));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
  return dir;
}

describe('special tokens from tokenizer_config.json and generation_config.json', () => {
  const ids: Record<string, number> = { '<s>': 1, '</s>': 2, '<pad>': 3, '<|eot|>': 4 };
  const toId = (t: string) => ids[t];

  it('reads plain strings and AddedToken objects; an unset field is null', () => {
    expect(tokenContent('<s>')).toBe('<s>');
    expect(tokenContent({ __type: 'AddedToken', content: '<s>', lstrip: false })).toBe('<s>');
    expect(tokenContent(null)).toBeNull();
    expect(tokenContent({ lstrip: true })).toBeNull();
    const s = resolveSpecialTokens({ bos_token: { content: '<s>' }, eos_token: '</s>', pad_token: null, additional_special_tokens: ['<|eot|>', { content: '<pad>' }] }, null, toId);
    expect(s).toEqual({
      bosId: 1,
      eosId: 2,
      padId: null,
      stopIds: [2],
      templateVariables: { bos_token: '<s>', eos_token: '</s>', additional_special_tokens: ['<|eot|>', '<pad>'] },
    });
  });

  it('takes every eos_token_id of generation_config (int or list) as a stop id; eos and pad fall back to it', () => {
    const gen = parseGenerationTokenIds({ bos_token_id: 1, eos_token_id: [4, 2], pad_token_id: 3 });
    expect(gen).toEqual({ bosTokenId: 1, eosTokenIds: [4, 2], padTokenId: 3 });
    expect(parseGenerationTokenIds({ eos_token_id: 2 }).eosTokenIds).toEqual([2]);
    const withEos = resolveSpecialTokens({ eos_token: '</s>' }, gen, toId);
    expect([withEos.eosId, withEos.stopIds, withEos.padId]).toEqual([2, [2, 4], 3]);
    // generation_config's bos is not prepended to text: only the tokenizer's own bos_token is.
    const bare = resolveSpecialTokens({}, gen, toId);
    expect([bare.bosId, bare.eosId, bare.stopIds]).toEqual([null, 4, [4, 2]]);
  });

  it('picks the default of named chat templates', () => {
    expect(chatTemplateOf({ chat_template: 'T' })).toBe('T');
    expect(chatTemplateOf({ chat_template: [{ name: 'tool_use', template: 'U' }, { name: 'default', template: 'D' }] })).toBe('D');
    expect(chatTemplateOf({ chat_template: [{ name: 'tool_use', template: 'U' }] })).toBeNull();
    expect(chatTemplateOf({})).toBeNull();
  });

  it('loadTokenizer reads the three files, and chat_template.jinja wins over tokenizer_config.json', async () => {
    const { json, vocab } = wordLevelTokenizer(CHATML_SPECIALS);
    const config = { bos_token: null, eos_token: { content: '<|im_end|>', __type: 'AddedToken' }, pad_token: '<|endoftext|>', chat_template: CHATML_TEMPLATE };
    const generation = { bos_token_id: vocab['<|endoftext|>'], eos_token_id: [vocab['<|im_end|>'], vocab['<|endoftext|>']] };
    const tok = await loadTokenizer(await modelDir({ 'tokenizer.json': json, 'tokenizer_config.json': config, 'generation_config.json': generation }));
    expect([tok.bosId, tok.eosId, tok.padId]).toEqual([null, vocab['<|im_end|>'], vocab['<|endoftext|>']]);
    expect(tok.stopIds).toEqual([vocab['<|im_end|>'], vocab['<|endoftext|>']]);
    expect(tok.chatTemplate).toBe(CHATML_TEMPLATE);
    expect(tok.templateVariables).toEqual({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>' });
    const separate = await loadTokenizer(await modelDir({ 'tokenizer.json': json, 'tokenizer_config.json': config, 'chat_template.jinja': '{{ messages[0].content }}' }));
    expect(separate.chatTemplate).toBe('{{ messages[0].content }}');
    expect(separate.stopIds).toEqual([vocab['<|im_end|>']]);
  });
});
