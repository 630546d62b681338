import { DataFormatError } from './errors.js';

/** One turn of a conversation; fields beyond role and content (name, tool_calls ...) reach the chat template untouched. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
  readonly [field: string]: unknown;
}

/** One training example as a dataset file states it. */
export type DataRow =
  | { readonly kind: 'text'; readonly text: string; readonly line: number }
  /** A conversation; with `promptTurns`, a conversational prompt/completion row whose first turns are the prompt (never trained). */
  | { readonly kind: 'messages'; readonly messages: readonly ChatMessage[]; readonly promptTurns?: number; readonly line: number }
  | { readonly kind: 'prompt'; readonly prompt: string; readonly completion: string; readonly line: number }
  | { readonly kind: 'tokens'; readonly inputIds: readonly number[]; readonly labels?: readonly number[]; readonly line: number };

const SHAPES = '{"messages": [{"role", "content"}, ...]}, {"text": string}, {"prompt": string, "completion": string} or {"input_ids": [int, ...], "labels"?: [int, ...]}';

/** Fields of the other formats: a conversation row that also holds one of them is ambiguous. */
const OTHER_FORMAT_FIELDS = ['prompt', 'completion', 'text', 'input_ids'];

function messagesFrom(v: unknown, file: string, line: number, field = 'messages'): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw new DataFormatError(file, line, `"${field}" must be a non-empty array of {"role": string, "content": string}`);
  return v.map((m: unknown, i) => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new DataFormatError(file, line, `"${field}"[${i}] is ${JSON.stringify(m)}; each message must be an object {"role", "content"}`);
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || role === '') throw new DataFormatError(file, line, `"${field}"[${i}].role must be a non-empty string (system, user, assistant ...), got ${JSON.stringify(role)}`);
    if (typeof content !== 'string') throw new DataFormatError(file, line, `"${field}"[${i}].content must be a string, got ${JSON.stringify(content)}`);
    return m as ChatMessage;
  });
}

function intArray(v: unknown, field: string, file: string, line: number): number[] {
  if (!Array.isArray(v) || v.length === 0) throw new DataFormatError(file, line, `"${field}" must be a non-empty array of integers`);
  for (const [i, x] of v.entries()) {
    if (!Number.isInteger(x) || x < -2147483648 || x > 2147483647) {
      throw new DataFormatError(file, line, `"${field}"[${i}] is ${JSON.stringify(x)}; token ids must be 32-bit integers`);
    }
  }
  return v as number[];
}

/** Validates one parsed JSON row. */
export function rowFromJson(value: unknown, file: string, line: number): DataRow {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataFormatError(file, line, `expected a JSON object, one of ${SHAPES}`);
  }
  const o = value as Record<string, unknown>;
  if ('messages' in o) {
    const others = OTHER_FORMAT_FIELDS.filter((k) => k in o);
    if (others.length > 0) {
      throw new DataFormatError(file, line, `row has "messages" and also ${others.map((k) => `"${k}"`).join(', ')}; a row holds exactly one format: ${SHAPES}`);
    }
    return { kind: 'messages', messages: messagesFrom(o.messages, file, line), line };
  }
  if ('input_ids' in o) {
    const inputIds = intArray(o.input_ids, 'input_ids', file, line);
    if (o.labels === undefined) return { kind: 'tokens', inputIds, line };
    const labels = intArray(o.labels, 'labels', file, line);
    if (labels.length !== inputIds.length) {
      throw new DataFormatError(file, line, `"labels" has ${labels.length} entries but "input_ids" has ${inputIds.length}; they must be the same length (use -100 to ignore a position)`);
    }
    return { kind: 'tokens', inputIds, labels, line };
  }
  if ('prompt' in o || 'completion' in o) {
    if (Array.isArray(o.prompt) && Array.isArray(o.completion)) {
      // TRL's conversational prompt/completion: both are lists of turns.
      const prompt = messagesFrom(o.prompt, file, line, 'prompt');
      return { kind: 'messages', messages: [...prompt, ...messagesFrom(o.completion, file, line, 'completion')], promptTurns: prompt.length, line };
    }
    if (typeof o.prompt !== 'string' || typeof o.completion !== 'string') {
      throw new DataFormatError(file, line, 'a prompt row needs both "prompt" and "completion" as strings (or both as lists of {"role", "content"} turns)');
    }
    if (o.completion.length === 0) throw new DataFormatError(file, line, '"completion" is empty, so the row has no token to learn');
    return { kind: 'prompt', prompt: o.prompt, completion: o.completion, line };
  }
  if ('text' in o) {
    if (typeof o.text !== 'string' || o.text.length === 0) throw new DataFormatError(file, line, '"text" must be a non-empty string');
    return { kind: 'text', text: o.text, line };
  }
  throw new DataFormatError(file, line, `row has fields ${JSON.stringify(Object.keys(o))}; expected one of ${SHAPES}`);
}

/** Parses JSON Lines; blank lines are skipped, any other bad line is an error naming it. */
export function parseJsonl(content: string, file = '<jsonl>'): DataRow[] {
  const rows: DataRow[] = [];
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i].trim();
    if (text === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new DataFormatError(file, i + 1, `not valid JSON (${(e as Error).message})`);
    }
    rows.push(rowFromJson(value, file, i + 1));
  }
  return rows;
}

/** A plain text file: one example per non-empty line, as `datasets`' "text" loader reads it. */
export function parsePlainText(content: string): DataRow[] {
  const rows: DataRow[] = [];
  content.split(/\r?\n/).forEach((l, i) => {
    if (l.trim() !== '') rows.push({ kind: 'text', text: l, line: i + 1 });
  });
  return rows;
}

/** Picks the parser by extension: `.jsonl`/`.json` are JSON Lines, anything else plain text. */
export function parseDataset(content: string, file: string): DataRow[] {
  return /\.jsonl?$/i.test(file) ? parseJsonl(content, file) : parsePlainText(content);
}
