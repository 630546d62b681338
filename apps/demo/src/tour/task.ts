// The fine-tuning tasks of the tour, built in memory so Node and the browser share them. The base model
// (pretrained on fortunes) has never seen either format, so it cannot answer them; a small adapter can.
import { tokenizeRow, toSequences, type DataRow, type TextTokenizer, type TrainSequence } from '@lowrank/models';

export type TaskName = 'first' | 'last';
export const TASK_NAMES: readonly TaskName[] = ['first', 'last'];

/** What a person reads: the instruction word each prompt starts with, and an example. */
export const TASK_DESCRIPTIONS: Readonly<Record<TaskName, string>> = {
  first: "first: w1 w2 w3 -> answers the list's first word",
  last: "last: w1 w2 w3 -> answers the list's last word",
};

/**
 * Everyday words the prompts are made of. Only those the tokenizer keeps as one token (with their leading
 * space) are used, so an answer is a copy of prompt tokens and exact match is a fair, short target.
 */
export const CANDIDATE_WORDS: readonly string[] = [
  'man', 'dog', 'cat', 'sun', 'day', 'car', 'war', 'god', 'money', 'water', 'life', 'love', 'time', 'house', 'book', 'world',
  'night', 'child', 'king', 'woman', 'wife', 'friend', 'mind', 'heart', 'head', 'door', 'eyes', 'light', 'word', 'work', 'home', 'food',
  'game', 'power', 'truth', 'death', 'job', 'city', 'road', 'tree', 'bird', 'fish', 'sea', 'fire', 'mother', 'father', 'school', 'music',
];

/**
 * The candidate words that are a single token after a space, at most `max` of them. Eight keeps the answer
 * a choice among few tokens, which a rank-8 adapter learns to copy in a couple of hundred steps.
 */
export function taskWords(tok: TextTokenizer, max = 8): string[] {
  const single = CANDIDATE_WORDS.filter((w) => tok.encode(` ${w}`, { addSpecialTokens: false }).length === 1);
  return single.slice(0, max);
}

export interface TaskExample {
  readonly task: TaskName;
  readonly prompt: string;
  /** The expected answer, with its leading space (what the model must generate before </s>). */
  readonly answer: string;
}

/** A small seeded generator (LCG), so the same seed gives the same examples everywhere. */
function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

function pick(rand: () => number, words: readonly string[], n: number): string[] {
  const out: string[] = [];
  while (out.length < n) {
    const w = words[Math.floor(rand() * words.length)];
    if (!out.includes(w)) out.push(w);
  }
  return out;
}

export function makeExample(task: TaskName, ws: readonly string[]): TaskExample {
  return { task, prompt: `${task}: ${ws.join(' ')} ->`, answer: ` ${task === 'first' ? ws[0] : ws[ws.length - 1]}` };
}

/** Three distinct words per prompt: 8 x 7 x 6 = 336 possible lists, enough for disjoint training and held-out sets. */
const WORDS_PER_PROMPT = 3;

/**
 * `count` distinct examples of each of `tasks`, none of whose prompts is in `exclude` (so held-out prompts
 * never appear in training), interleaved task by task.
 */
export function taskExamples(tasks: readonly TaskName[], words: readonly string[], count: number, seed: number, exclude: ReadonlySet<string> = new Set()): TaskExample[] {
  const rand = lcg(seed);
  const seen = new Set(exclude);
  const out: TaskExample[] = [];
  for (let i = 0; out.length < count * tasks.length; i++) {
    if (i > 100 * count * tasks.length) throw new RangeError(`cannot draw ${count} distinct prompts per task from ${words.length} words`);
    const task = tasks[out.length % tasks.length];
    const ex = makeExample(task, pick(rand, words, WORDS_PER_PROMPT));
    if (seen.has(ex.prompt)) continue;
    seen.add(ex.prompt);
    out.push(ex);
  }
  return out;
}

/** Prompt/completion sequences (loss on the answer and </s> only), one example per padded sequence. */
export function taskSequences(examples: readonly TaskExample[], tok: TextTokenizer, seqLen: number): TrainSequence[] {
  const encoder = { vocabSize: tok.vocabSize, bosId: tok.bosId, eosId: tok.eosId, encode: (t: string) => tok.encode(t, { addSpecialTokens: false }) };
  const rows: DataRow[] = examples.map((e, i) => ({ kind: 'prompt', prompt: e.prompt, completion: e.answer, line: i + 1 }));
  const examplesTok = rows.map((r) => tokenizeRow(r, encoder, '<demo task>'));
  return toSequences(examplesTok, { seqLen, layout: 'padding', padTokenId: tok.padId ?? tok.eosId ?? 0 }).sequences;
}

export interface TaskData {
  readonly tasks: readonly TaskName[];
  readonly words: readonly string[];
  readonly trainExamples: readonly TaskExample[];
  readonly heldOutExamples: readonly TaskExample[];
  readonly train: readonly TrainSequence[];
  readonly heldOut: readonly TrainSequence[];
  readonly seqLen: number;
  /** Greedy decoding of the held-out prompts: rows per generated batch. */
  readonly decodeBatch: number;
}

/** Training and held-out examples of the tasks; held-out prompts are drawn first and never trained on. */
export function makeTask(tok: TextTokenizer, opts: { tasks: readonly TaskName[]; trainPerTask: number; heldOutPerTask: number; seqLen: number; seed: number; words?: readonly string[] }): TaskData {
  const words = opts.words ?? taskWords(tok);
  const heldOutExamples = taskExamples(opts.tasks, words, opts.heldOutPerTask, opts.seed + 1000);
  const trainExamples = taskExamples(opts.tasks, words, opts.trainPerTask, opts.seed, new Set(heldOutExamples.map((e) => e.prompt)));
  return {
    tasks: opts.tasks,
    words,
    trainExamples,
    heldOutExamples,
    train: taskSequences(trainExamples, tok, opts.seqLen),
    heldOut: taskSequences(heldOutExamples, tok, opts.seqLen),
    seqLen: opts.seqLen,
    decodeBatch: 32,
  };
}

/** Two tasks' data as one (for the merged adapter's loss over both); the sets are concatenated. */
export function combineTasks(a: TaskData, b: TaskData): TaskData {
  if (a.seqLen !== b.seqLen) throw new RangeError(`tasks with different sequence lengths (${a.seqLen}, ${b.seqLen}) cannot be combined`);
  return {
    tasks: [...a.tasks, ...b.tasks],
    words: a.words,
    trainExamples: [...a.trainExamples, ...b.trainExamples],
    heldOutExamples: [...a.heldOutExamples, ...b.heldOutExamples],
    train: [...a.train, ...b.train],
    heldOut: [...a.heldOut, ...b.heldOut],
    seqLen: a.seqLen,
    decodeBatch: Math.max(a.decodeBatch, b.decodeBatch),
  };
}
