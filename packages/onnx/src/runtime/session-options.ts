import type { InferenceSession } from 'onnxruntime-node';

export type ExecutionProviderConfig = InferenceSession.SessionOptions['executionProviders'];

export interface SessionSettings {
  readonly executionProviders: NonNullable<ExecutionProviderConfig>;
  /** Intra-op threads (default: ORT's choice, one per core). */
  readonly threads?: number;
  /** Writes the ORT-optimized model here (inspection and tests). */
  readonly optimizedModelFilePath?: string;
  readonly graphOptimizationLevel?: InferenceSession.SessionOptions['graphOptimizationLevel'];
}

/**
 * Session options every lowrank session uses. CommonSubexpressionElimination
 * would merge recomputed checkpoint segments back into their originals, so it
 * is disabled alone; arena on with memory patterns off gave the lowest stable
 * peak (ENVIRONMENT.md).
 */
export function sessionOptions(s: SessionSettings): InferenceSession.SessionOptions {
  return {
    executionProviders: s.executionProviders,
    graphOptimizationLevel: s.graphOptimizationLevel ?? 'all',
    enableCpuMemArena: process.env.LOWRANK_ARENA !== '0',
    enableMemPattern: false,
    executionMode: 'sequential',
    ...(s.threads ? { intraOpNumThreads: s.threads, interOpNumThreads: 1 } : {}),
    ...(s.optimizedModelFilePath ? { optimizedModelFilePath: s.optimizedModelFilePath } : {}),
    logSeverityLevel: 3,
    extra: { optimization: { disable_specified_optimizers: 'CommonSubexpressionElimination' } },
  };
}
