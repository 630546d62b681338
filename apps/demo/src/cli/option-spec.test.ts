import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCheckpointing, parseSize } from './checkpointing.js';
import { ALL_OPTION_NAMES, TRAIN_OPTIONS } from './command-options.js';
import { readConfigFile } from './config-file.js';
import { CliConfigError, CliOptionError } from './errors.js';
import { resolveOptions } from './option-spec.js';

const base = { model: 'llama-tiny', data: 'd.jsonl', out: 'o' };

describe('train options', () => {
  it('parses values and fills defaults', () => {
    const o = resolveOptions(TRAIN_OPTIONS, { ...base, lr: '0.02', target: 'q_proj, v_proj,o_proj', checkpointing: 'every:2', resume: true }, {});
    expect(o.lr).toBe(0.02);
    expect(o.target).toEqual(['q_proj', 'v_proj', 'o_proj']);
    expect(o.checkpointing).toEqual({ kind: 'every', k: 2 });
    expect(o.variant).toBe('lora');
    expect(o.batchSize).toBe(8);
    expect(o.resume).toBe(true);
  });

  it('names the option and the allowed values when a value is invalid', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ variant: 'lorax' }, /--variant .*allowed: lora, dora, qlora, dylora, lora-drop, adalora/],
      [{ optimizer: 'adam' }, /--optimizer .*allowed: adamw, sgd/],
      [{ backend: 'tpu' }, /--backend .*allowed: cpu, webgpu, cuda, reference/],
      [{ r: '2.5' }, /--r .*allowed: an integer >= 1/],
      [{ lr: '-1' }, /--lr .*allowed: a number > 0/],
      [{ lr: 'fast' }, /"fast" for --lr/],
      [{ checkpointing: 'every:0' }, /--checkpointing .*allowed: none, sqrt, save-matmuls, every:K/],
      [{ checkpointing: 'budget:lots' }, /--checkpointing .*budget:SIZE/],
      [{ dropout: '1' }, /--dropout .*a number >= 0 and < 1/],
    ];
    for (const [over, msg] of bad) {
      expect(() => resolveOptions(TRAIN_OPTIONS, { ...base, ...over }, {})).toThrow(CliOptionError);
      expect(() => resolveOptions(TRAIN_OPTIONS, { ...base, ...over }, {})).toThrow(msg);
    }
    expect(() => resolveOptions(TRAIN_OPTIONS, { model: 'x', data: 'y' }, {})).toThrow(/--out .*required/);
  });

  it('takes config values under command-line values and says where a bad one came from', () => {
    const o = resolveOptions(TRAIN_OPTIONS, { ...base, steps: '7' }, { steps: 100, lr: 0.5, target: ['q_proj'] }, 'run.yaml');
    expect([o.steps, o.lr, o.target]).toEqual([7, 0.5, ['q_proj']]);
    expect(() => resolveOptions(TRAIN_OPTIONS, base, { schedule: 'step' }, 'run.yaml')).toThrow(/--schedule \(from run\.yaml\); allowed: constant, linear, cosine/);
  });

  it('parses sizes and checkpoint policies', () => {
    expect(parseSize('512MB')).toBe(512e6);
    expect(parseSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseCheckpointing('budget:64KiB')).toEqual({ kind: 'budget', bytes: 65536 });
    expect(parseCheckpointing('sqrt')).toEqual({ kind: 'sqrt' });
    expect(() => parseCheckpointing('every:x')).toThrow();
  });
});

describe('config files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lowrank-config-'));

  it('reads YAML and JSON with kebab-case or camelCase keys', async () => {
    writeFileSync(join(dir, 'a.yaml'), 'model: llama-tiny\nbatch-size: 4\ntarget:\n  - q_proj\n  - v_proj\nlr: 2e-3\n');
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ model: 'gpt2-tiny', batchSize: 2 }));
    expect(await readConfigFile(join(dir, 'a.yaml'), ALL_OPTION_NAMES)).toEqual({ model: 'llama-tiny', batchSize: 4, target: ['q_proj', 'v_proj'], lr: 0.002 });
    expect(await readConfigFile(join(dir, 'b.json'), ALL_OPTION_NAMES)).toEqual({ model: 'gpt2-tiny', batchSize: 2 });
  });

  it('rejects unknown keys, non-mappings and unreadable files', async () => {
    writeFileSync(join(dir, 'typo.yaml'), 'learning-rate: 0.1\n');
    writeFileSync(join(dir, 'list.yaml'), '- 1\n- 2\n');
    writeFileSync(join(dir, 'broken.json'), '{"model": ');
    await expect(readConfigFile(join(dir, 'typo.yaml'), ALL_OPTION_NAMES)).rejects.toThrow(/unknown option 'learning-rate'; known options: .*lr/);
    await expect(readConfigFile(join(dir, 'list.yaml'), ALL_OPTION_NAMES)).rejects.toThrow(/must hold a mapping/);
    await expect(readConfigFile(join(dir, 'broken.json'), ALL_OPTION_NAMES)).rejects.toThrow(CliConfigError);
    await expect(readConfigFile(join(dir, 'missing.yaml'), ALL_OPTION_NAMES)).rejects.toThrow(/cannot read config file/);
  });
});
