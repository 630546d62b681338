import type { InferenceSession } from 'onnxruntime-node';

export type ExecutionProviderConfig = InferenceSession.SessionOptions['executionProviders'];

export interface SessionSettings {
  readonly executionProviders: NonNullable<ExecutionProviderConfig>;
  /** Intra-op threads (default: ORT's choice, one per core). */
  readonly threads?: number;
  /** Writes the ORT-optimized model here (inspection and tests). */
  readonly optimizedModelFilePath?: string;
  readonly graphOptimizationLevel?: InferenceSession.SessionOptions['graphOptimizationLevel'];
  /** ORT's CPU memory arena (default true). */
  readonly memoryArena?: boolean;
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
    enableCpuMemArena: s.memoryArena ?? true,
    enableMemPattern: false,
    executionMode: 'sequential',
    ...(s.threads ? { intraOpNumThreads: s.threads, interOpNumThreads: 1 } : {}),
    // LOWRANK_ORT_OPTIMIZED_MODEL=path: debug aid, writes what ORT made of each session's graph (the last one wins).
    ...(s.optimizedModelFilePath ?? process.env.LOWRANK_ORT_OPTIMIZED_MODEL ? { optimizedModelFilePath: s.optimizedModelFilePath ?? process.env.LOWRANK_ORT_OPTIMIZED_MODEL } : {}),
    // LOWRANK_ORT_PROFILE=prefix: debug aid, ORT's per-node profile (JSON, written when the session is released).
    ...(process.env.LOWRANK_ORT_PROFILE ? { enableProfiling: true, profileFilePrefix: process.env.LOWRANK_ORT_PROFILE } : {}),
    logSeverityLevel: 3,
    extra: {
      optimization: { disable_specified_optimizers: 'CommonSubexpressionElimination' },
    },
  };
}
