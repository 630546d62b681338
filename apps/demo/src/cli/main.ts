import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { LowrankError } from '@lowrank/core';
import {
  ALL_OPTION_NAMES,
  EVAL_OPTIONS,
  EXPORT_OPTIONS,
  GENERATE_OPTIONS,
  INFO_OPTIONS,
  MERGE_OPTIONS,
  TRAIN_OPTIONS,
} from './command-options.js';
import { readConfigFile } from './config-file.js';
import { allowedText, camel, resolveOptions, type OptionSpec } from './option-spec.js';
import { InterruptedError } from './errors.js';
// Commands load on demand, so `info` does not pay for the trainer's modules.
import type { TrainArgs } from './commands/train.js';
import type { EvalArgs } from './commands/eval.js';
import type { GenerateArgs } from './commands/generate.js';
import type { MergeArgs } from './commands/merge.js';
import type { ExportArgs } from './commands/export-onnx.js';
import type { InfoArgs } from './commands/info.js';

export interface CliIo {
  readonly stdout: { write(s: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(s: string): unknown };
}

type Handler = (opts: Record<string, unknown>, io: CliIo) => Promise<void>;

const printJson = (io: CliIo, v: unknown) => io.stdout.write(JSON.stringify(v) + '\n');

function addOptions(cmd: Command, specs: readonly OptionSpec[]): Command {
  for (const s of specs) {
    const flag = s.kind.type === 'bool' ? `--${s.name}` : `--${s.name} <${s.arg ?? 'VALUE'}>`;
    const def = s.default !== undefined && s.kind.type !== 'bool' ? ` (default: ${Array.isArray(s.default) ? s.default.join(',') : typeof s.default === 'object' ? 'none' : String(s.default)})` : '';
    const req = s.required ? ' (required)' : '';
    cmd.addOption(new Option(flag, `${s.description}${req}${def}`));
  }
  cmd.addOption(new Option('--config <FILE>', 'read options from a JSON or YAML file (command-line flags win)'));
  return cmd;
}

/** Builds the `lowrank` program; `main` runs it. Exposed for tests and --help docs. */
export function buildProgram(io: CliIo, done: (code: number) => void): Command {
  const program = new Command('lowrank')
    .description('Parameter-efficient fine-tuning (LoRA and family) of transformer language models, in TypeScript')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride()
    .showHelpAfterError('(run with --help for the options)');

  const command = (name: string, summary: string, specs: readonly OptionSpec[], handler: Handler) => {
    const cmd = addOptions(program.command(name).description(summary), specs);
    cmd.action(async (raw: Record<string, unknown>) => {
      const config = typeof raw.config === 'string' ? await readConfigFile(raw.config, ALL_OPTION_NAMES) : {};
      const cli: Record<string, unknown> = {};
      for (const s of specs) if (raw[camel(s.name)] !== undefined) cli[camel(s.name)] = raw[camel(s.name)];
      const known = new Set(specs.map((s) => camel(s.name)));
      const opts = resolveOptions(specs, cli, Object.fromEntries(Object.entries(config).filter(([k]) => known.has(k))), typeof raw.config === 'string' ? raw.config : 'config file');
      await handler(opts, io);
      done(0);
    });
    return cmd;
  };

  command('train', 'fine-tune adapters on a dataset and write a PEFT adapter directory', TRAIN_OPTIONS, async (o, io) => {
    const summary = await (await import('./commands/train.js')).runTrain(o as unknown as TrainArgs, io.stdout);
    if (o.json) printJson(io, { event: 'done', ...summary, losses: undefined });
    else io.stdout.write(`done: ${summary.steps} steps, held-out loss ${summary.initialEvalLoss?.toFixed(4) ?? '(resumed)'} -> ${summary.finalEvalLoss.toFixed(4)}; adapter written to ${summary.adapterDir}\n`);
  });
  command('eval', 'mean token cross-entropy and perplexity on a dataset', EVAL_OPTIONS, async (o, io) => {
    const r = await (await import('./commands/eval.js')).runEval(o as unknown as EvalArgs, io.stderr);
    if (o.json) printJson(io, r);
    else io.stdout.write(`loss ${r.loss.toFixed(4)}  perplexity ${r.perplexity.toFixed(3)}  tokens ${r.tokens}\n`);
  });
  command('generate', 'continue a prompt with the model (and adapter)', GENERATE_OPTIONS, async (o, io) => {
    const r = await (await import('./commands/generate.js')).runGenerate(o as unknown as GenerateArgs, io.stderr);
    if (o.json) printJson(io, r);
    else io.stdout.write(`${r.text}\n`);
  });
  command('merge', 'merge an adapter into the base weights and write a Hugging Face model directory', MERGE_OPTIONS, async (o, io) => {
    const r = await (await import('./commands/merge.js')).runMerge(o as unknown as MergeArgs);
    if (o.json) printJson(io, r);
    else io.stdout.write(`merged ${r.mergedModules} modules; wrote ${r.files.join(', ')} to ${r.out}\n`);
  });
  command('export-onnx', 'export the model (with adapter) as a standalone .onnx inference graph', EXPORT_OPTIONS, async (o, io) => {
    const r = await (await import('./commands/export-onnx.js')).runExportOnnx(o as unknown as ExportArgs);
    if (o.json) printJson(io, r);
    else io.stdout.write(`wrote ${r.path} (${r.bytes} bytes)\n`);
  });
  command('info', 'parameter counts and trainable share from config.json and the safetensors headers (no weights read); --plan-memory adds planned memory per checkpoint policy', INFO_OPTIONS, async (o, io) => {
    const r = await (await import('./commands/info.js')).runInfo(o as unknown as InfoArgs);
    if (o.json) printJson(io, r);
    else io.stdout.write(r.text);
  });
  return program;
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 failure, 2 bad usage, 130 interrupted). */
export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof InterruptedError) {
      io.stderr.write(`lowrank: ${e.message}\n`);
      return 130;
    }
    if (e instanceof LowrankError) {
      io.stderr.write(`lowrank: ${e.message}\n`);
      return /Cli(Option|Config)Error/.test(e.name) ? 2 : 1;
    }
    throw e;
  }
}

export { allowedText };

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
