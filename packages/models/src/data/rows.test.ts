import { describe, expect, it } from 'vitest';
import { DataFormatError } from './errors.js';
import { parseDataset, parseJsonl } from './rows.js';
import { IGNORE_INDEX, tokenizeRow, type DataTokenizer } from './tokenize.js';

/** Letters a..z are ids 1..26; 0 is end-of-sequence. */
const letters: DataTokenizer = {
  encode: (s) => [...s].map((c) => c.charCodeAt(0) - 96),
  vocabSize: 27,
  eosId: 0,
};

describe('dataset rows', () => {
  it('reads the three JSONL shapes and skips blank lines', () => {
    const rows = parseJsonl('{"text":"abc"}\n\n{"prompt":"ab","completion":"c"}\n{"input_ids":[1,2,3],"labels":[-100,2,3]}\n{"input_ids":[4]}\n', 'd.jsonl');
    expect(rows.map((r) => [r.kind, r.line])).toEqual([['text', 1], ['prompt', 3], ['tokens', 4], ['tokens', 5]]);
  });

  it('names the file and line of a bad row', () => {
    const cases: [string, RegExp][] = [
      ['{"text":"a"}\n{"text": 3}', /f\.jsonl:2: "text" must be a non-empty string/],
      ['{"text":"a"}\n\n{oops', /f\.jsonl:3: not valid JSON/],
      ['{"prompt":"a"}', /f\.jsonl:1: a prompt row needs both/],
      ['{"input_ids":[1,2],"labels":[1]}', /f\.jsonl:1: "labels" has 1 entries but "input_ids" has 2/],
      ['{"input_ids":[1,2.5]}', /f\.jsonl:1: "input_ids"\[1\] is 2\.5/],
      ['{"question":"x"}', /f\.jsonl:1: row has fields \["question"\]/],
      ['[1,2]', /f\.jsonl:1: expected a JSON object/],
    ];
    for (const [text, msg] of cases) {
      expect(() => parseJsonl(text, 'f.jsonl')).toThrow(DataFormatError);
      expect(() => parseJsonl(text, 'f.jsonl')).toThrow(msg);
    }
  });

  it('reads plain text one example per non-empty line', () => {
    const rows = parseDataset('ab\n\ncd\n', 'notes.txt');
    expect(rows).toEqual([
      { kind: 'text', text: 'ab', line: 1 },
      { kind: 'text', text: 'cd', line: 3 },
    ]);
  });

  it('puts the loss on completion tokens only and appends end-of-sequence', () => {
    const [p] = parseJsonl('{"prompt":"ab","completion":"cd"}');
    expect(tokenizeRow(p, letters)).toEqual({ ids: [1, 2, 3, 4, 0], labels: [IGNORE_INDEX, IGNORE_INDEX, 3, 4, 0], line: 1 });
    const [t] = parseJsonl('{"text":"ab"}');
    expect(tokenizeRow(t, letters)).toEqual({ ids: [1, 2, 0], labels: [1, 2, 0], line: 1 });
  });

  it('keeps pre-tokenized labels and checks ids against the vocabulary', () => {
    const [a, b] = parseJsonl('{"input_ids":[5,6,7],"labels":[-100,6,7]}\n{"input_ids":[5,99]}', 'x.jsonl');
    expect(tokenizeRow(a, letters).labels).toEqual([-100, 6, 7]);
    expect(() => tokenizeRow(b, letters, 'x.jsonl')).toThrow(/x\.jsonl:2: input_ids\[1\] = 99 is outside the vocabulary \[0, 27\)/);
  });
});
