// The `lowrank` CLI as a library: the demo and tests drive the same commands.
export { main, buildProgram, type CliIo } from './cli/main.js';
export { runTrain, type TrainArgs, type TrainSummary } from './cli/commands/train.js';
export { runEval, type EvalArgs, type EvalResult } from './cli/commands/eval.js';
export { runGenerate, type GenerateArgs } from './cli/commands/generate.js';
export { runMerge, type MergeArgs } from './cli/commands/merge.js';
export { runExportOnnx, type ExportArgs } from './cli/commands/export-onnx.js';
export { runInfo, type InfoArgs, type InfoResult } from './cli/commands/info.js';
export { saveRunCheckpoint, readRunCheckpoint, findLatestCheckpoint, RunCheckpointError } from './cli/run-checkpoint.js';
export { CliOptionError, CliConfigError } from './cli/errors.js';
