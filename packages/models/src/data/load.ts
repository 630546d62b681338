import { readFile } from 'node:fs/promises';
import { parseDataset, type DataRow } from './rows.js';
import { DatasetError } from './errors.js';

/** Reads a JSONL or plain text dataset file into validated rows. */
export async function readDatasetFile(path: string): Promise<DataRow[]> {
  const content = await readFile(path, 'utf8');
  const rows = parseDataset(content, path);
  if (rows.length === 0) throw new DatasetError(`${path} holds no example; a JSONL file needs one JSON object per line, a text file one example per line`);
  return rows;
}
