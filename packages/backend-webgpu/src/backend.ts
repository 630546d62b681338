/// <reference types="@webgpu/types" />
import * as tf from '@tensorflow/tfjs-core';
import { DTYPES, assertSupported, listOps, type Backend, type BackendCapabilities, type Graph, type MemoryStats, type Signature } from '@lowrank/core';
import { FUSED_COMPOSITES, KERNELS } from './compile/primitive-kernels.js';
import { WebGpuExecutable } from './executable.js';
import { requestAdapter, startTfjsWebGpu } from './gpu-setup.js';
import { gpuBytesInUse, MemoryMeter } from './memory-meter.js';

export interface WebGpuBackendOptions {
  /** The adapter to run on (default: navigator.gpu's high-performance adapter; in Node, Dawn's). */
  readonly adapter?: GPUAdapter;
  /** Where to ask for the default adapter (default: navigator.gpu of the page, or Dawn's in Node). */
  readonly gpu?: GPU;
}

export interface WebGpuBackend extends Backend {
  compile(graph: Graph, signature?: Signature): Promise<WebGpuExecutable>;
  /** Starts a new peak-memory window at the current usage. */
  resetPeakMemory(): void;
  /** The adapter's vendor, architecture and description. */
  readonly adapterInfo: string;
}

/**
 * The WebGPU backend on TensorFlow.js: compiles core graphs into sequences of
 * tfjs kernel calls (plus lowrank's own WGSL kernels) on a WebGPU device.
 * Throws WebGpuUnavailableError when there is no adapter; it never falls back
 * to another backend. In Node the device comes from the `webgpu` package (Dawn).
 */
export async function createWebGpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const gpu = await startTfjsWebGpu(options.adapter ?? (options.gpu ? await requestAdapter(options.gpu) : undefined));
  const meter = new MemoryMeter();
  const live = new Set<WebGpuExecutable>();
  const primitives = listOps('primitive').map((d) => d.name);
  const capabilities: BackendCapabilities = {
    dtypes: DTYPES,
    ops: new Set(primitives.filter((p) => KERNELS[p] !== undefined)),
    fusedOps: FUSED_COMPOSITES,
    residentParameters: true,
    float64: false,
  };
  const backend: WebGpuBackend = {
    name: 'webgpu',
    capabilities,
    adapterInfo: gpu.info,
    async compile(graph, signature = {}) {
      assertSupported(backend, graph);
      // Another tfjs backend may have been selected since; our kernels need this one.
      if (tf.getBackend() !== 'webgpu') await tf.setBackend('webgpu');
      const exe = new WebGpuExecutable(graph, signature, capabilities.fusedOps, meter, gpu.info, (e) => live.delete(e));
      live.add(exe);
      return exe;
    },
    memoryStats(): MemoryStats {
      return { currentBytes: gpuBytesInUse(), peakBytes: Math.max(meter.peakBytes, gpuBytesInUse()), liveTensors: tf.memory().numTensors };
    },
    resetPeakMemory() {
      meter.reset();
    },
    dispose() {
      for (const e of [...live]) e.dispose();
    },
  };
  return backend;
}
