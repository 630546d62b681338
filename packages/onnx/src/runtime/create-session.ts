import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import type { LoweredGraph } from '../lower/lower-graph.js';
import { encodeModel } from '../model/encode-model.js';
import { DEFAULT_EXTERNAL_DATA_THRESHOLD, writeOnnxModel } from '../model/write-model.js';
import { OrtSessionError } from '../errors.js';
import { sessionOptions, type SessionSettings } from './session-options.js';

export interface CreatedSession {
  readonly session: InferenceSession;
  readonly cleanup: () => void;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Creates an ORT session for a lowered graph: from memory, or past the
 * protobuf limit from a temporary .onnx file with external data.
 */
export async function createSession(
  lowered: LoweredGraph,
  settings: SessionSettings,
  backend: string,
  externalDataThresholdBytes = DEFAULT_EXTERNAL_DATA_THRESHOLD,
): Promise<CreatedSession> {
  const opts = sessionOptions(settings);
  const context = `a graph of ${lowered.coreNodes} core nodes (${lowered.model.graph.nodes.length} ONNX nodes, ${(lowered.initializerBytes / 2 ** 20).toFixed(1)} MiB of initializers)`;
  let dir: string | undefined;
  const cleanup = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (lowered.initializerBytes > externalDataThresholdBytes) {
      dir = mkdtempSync(join(tmpdir(), 'lowrank-onnx-'));
      const written = writeOnnxModel(lowered.model, join(dir, 'model.onnx'), { externalDataThresholdBytes });
      return { session: await InferenceSession.create(written.modelPath, opts), cleanup };
    }
    const t0 = performance.now();
    const bytes = encodeModel(lowered.model);
    const t1 = performance.now();
    if (process.env.LOWRANK_DUMP_MODEL) (await import('node:fs')).writeFileSync(process.env.LOWRANK_DUMP_MODEL + '-' + lowered.coreNodes + '.onnx', bytes);
    const session = await InferenceSession.create(bytes, opts);
    if (process.env.LOWRANK_DEBUG_SESSION) console.error(`[session] ${context}: encode ${(t1 - t0).toFixed(0)} ms, create ${(performance.now() - t1).toFixed(0)} ms`);
    return { session, cleanup };
  } catch (e) {
    cleanup();
    throw new OrtSessionError(backend, messageOf(e), context);
  }
}
