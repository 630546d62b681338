import { InferenceSession } from 'onnxruntime-node';
import type { LoweredGraph } from '../lower/lower-graph.js';
import { encodeModel } from '../model/encode-model.js';
import type { OnnxModel, OnnxTensor } from '../model/onnx-types.js';
import { DEFAULT_EXTERNAL_DATA_THRESHOLD } from '../model/write-model.js';
import { OrtSessionError } from '../errors.js';
import { sessionOptions, type SessionSettings } from './session-options.js';
import { SpillArea } from './spill-area.js';

export interface CreatedSession {
  readonly session: InferenceSession;
  readonly cleanup: () => void;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** In-memory initializers at least this large move to a temporary external-data file past the protobuf limit. */
const SPILL_MIN_BYTES = 1024;

/**
 * Moves the larger in-memory initializers into one temporary file and points
 * the model at it: protobuf cannot hold a model past 2 GiB.
 */
function spillInitializers(model: OnnxModel, area: SpillArea): OnnxModel {
  const initializers: OnnxTensor[] = model.graph.initializers.map((t) =>
    t.file || t.data.length < SPILL_MIN_BYTES ? t : { name: t.name, dataType: t.dataType, dims: t.dims, data: new Uint8Array(0), file: area.append(t.data) },
  );
  return { ...model, graph: { ...model.graph, initializers } };
}

/** Initializer bytes above which ORT's weight pre-packing is turned off (see createSession). */
export const PREPACK_LIMIT_BYTES = 256 * 2 ** 20;

/**
 * Creates an ORT session for a lowered graph, always from bytes in memory.
 * File-backed initializers (a checkpoint's weights, a spilled 4-bit base) are
 * ONNX external data that ORT reads itself, so their bytes never pass through
 * JavaScript; they are named by absolute path, resolved against the
 * external-initializers folder '/'. Past the protobuf limit, the in-memory
 * initializers are spilled to a temporary file first.
 */
export async function createSession(
  lowered: LoweredGraph,
  settings: SessionSettings,
  backend: string,
  externalDataThresholdBytes = DEFAULT_EXTERNAL_DATA_THRESHOLD,
): Promise<CreatedSession> {
  const opts = sessionOptions(settings);
  const context = `a graph of ${lowered.coreNodes} core nodes (${lowered.model.graph.nodes.length} ONNX nodes, ${(lowered.initializerBytes / 2 ** 20).toFixed(1)} MiB of initializers)`;
  const area = new SpillArea();
  const cleanup = () => area.dispose();
  try {
    let model = lowered.model;
    const inMemory = model.graph.initializers.reduce((s, t) => s + t.data.length, 0);
    if (inMemory > externalDataThresholdBytes) model = spillInitializers(model, area);
    const config: Record<string, string> = {};
    if (model.graph.initializers.some((t) => t.file)) config.model_external_initializers_file_folder_path = '/';
    // ORT pre-packs every constant matmul operand into a copy of its own (one per use: x·Wᵀ and dY·W
    // each), and file-backed weights are then read into memory too. A 1.1B f32 base: 9.5 GB peak with
    // pre-packing, 5.6 GB without, and the step was faster without (bench/RESULTS.md, issue 15).
    if (lowered.initializerBytes > PREPACK_LIMIT_BYTES) config.disable_prepacking = '1';
    if (Object.keys(config).length > 0) opts.extra = { ...opts.extra, session: { ...(opts.extra as { session?: Record<string, string> } | undefined)?.session, ...config } };
    const t0 = performance.now();
    const session = await InferenceSession.create(encodeModel(model), opts);
    if (process.env.LOWRANK_DEBUG_SESSION) console.error(`[lowrank:onnx] session for ${context} in ${(performance.now() - t0).toFixed(0)} ms`);
    // ORT has read (or mapped) every external initializer: the spill file is no longer needed.
    cleanup();
    return { session, cleanup };
  } catch (e) {
    cleanup();
    throw new OrtSessionError(backend, messageOf(e), context);
  }
}
