import { readFortunes } from './src/demo-base/corpus.js';
import { trainBpe, tokenizerFiles } from './src/demo-base/bpe-trainer.js';
import { HFTokenizer } from '@lowrank/models';
import { CANDIDATE_WORDS, taskWords } from './src/tour/task.js';
const c = readFortunes();
for (const v of [1024, 2048]) {
  const f = tokenizerFiles(trainBpe(c.texts, { vocabSize: v, specialTokens: ['<pad>', '<s>', '</s>'] }), { bos: '<s>', eos: '</s>', pad: '<pad>' });
  const tok = new HFTokenizer(f.tokenizer, f.tokenizerConfig);
  const ws = taskWords(tok, 100);
  console.log(v, ws.length, ws.join(' '));
  console.log('missing', CANDIDATE_WORDS.filter((w) => !ws.includes(w)).join(' '));
}
