/// <reference types="@webgpu/types" />
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { WebGpuAdapterConflictError, WebGpuUnavailableError } from './errors.js';
import { registerCustomKernels } from './kernels/register.js';

/** The tfjs backend name our kernels run under (tfjs's WebGPU kernels are registered for it). */
export const TFJS_BACKEND = 'webgpu';

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * navigator.gpu of the page, or in Node the one Dawn (the `webgpu` package)
 * provides. An existing navigator (Node 21+ has one) is extended, not replaced.
 */
export async function navigatorGpu(): Promise<GPU | undefined> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (!isNode()) return undefined;
  // A computed specifier keeps browser bundlers from pulling in the native module.
  const specifier = 'webgpu';
  let dawn: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    dawn = (await import(/* @vite-ignore */ specifier)) as typeof dawn;
  } catch (e) {
    throw new WebGpuUnavailableError(`the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}`);
  }
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const gpu = dawn.create([]);
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else (globalThis as { navigator?: unknown }).navigator = { gpu };
  return gpu;
}

/** Finds an adapter or explains why there is none. */
export async function requestAdapter(gpu?: GPU): Promise<GPUAdapter> {
  const g = gpu ?? (await navigatorGpu());
  if (!g) throw new WebGpuUnavailableError('this environment has no navigator.gpu');
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await g.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw new WebGpuUnavailableError(`requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new WebGpuUnavailableError('navigator.gpu.requestAdapter() returned no adapter (no GPU or Vulkan driver found)');
  return adapter;
}

async function openDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const l = adapter.limits;
  // The same limits tfjs asks for, so its kernels see the adapter's full capacity.
  return adapter.requestDevice({
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
}

const deviceErrors: string[] = [];
const MAX_KEPT_ERRORS = 20;

/**
 * Validation and out-of-memory errors the device reported since the last call.
 * tfjs does not check them: a shader that fails to compile leaves its output
 * unwritten (zeros) and nothing throws, so the executor asks after every run.
 */
export function takeDeviceErrors(): string[] {
  return deviceErrors.splice(0, deviceErrors.length);
}

interface Running {
  readonly adapter: GPUAdapter;
  readonly backend: WebGPUBackend;
  readonly info: string;
}

let running: Promise<Running> | undefined;

/**
 * Starts tfjs's WebGPU backend on `adapter` (or the default one) once per
 * process or page and makes it the active tfjs backend.
 */
export async function startTfjsWebGpu(adapter?: GPUAdapter): Promise<Running> {
  if (running) {
    const r = await running.catch(() => undefined);
    if (r) {
      if (adapter && adapter !== r.adapter) throw new WebGpuAdapterConflictError();
      if (tf.getBackend() !== TFJS_BACKEND) await tf.setBackend(TFJS_BACKEND);
      return r;
    }
  }
  running = (async () => {
    const a = adapter ?? (await requestAdapter());
    const device = await openDevice(a);
    device.addEventListener('uncapturederror', (ev) => {
      if (deviceErrors.length < MAX_KEPT_ERRORS) deviceErrors.push((ev as GPUUncapturedErrorEvent).error.message);
    });
    const backend = new WebGPUBackend(device, a.info);
    // tfjs may have registered its own factory at import time; ours carries the chosen adapter.
    if (tf.findBackendFactory(TFJS_BACKEND)) tf.removeBackend(TFJS_BACKEND);
    tf.registerBackend(TFJS_BACKEND, () => backend, 3);
    registerCustomKernels();
    if (!(await tf.setBackend(TFJS_BACKEND))) throw new WebGpuUnavailableError('tfjs could not start its WebGPU backend on the adapter');
    await tf.ready();
    const info = [a.info?.vendor, a.info?.architecture, a.info?.description].filter(Boolean).join(' ') || 'unknown adapter';
    return { adapter: a, backend, info };
  })();
  try {
    return await running;
  } catch (e) {
    running = undefined;
    throw e;
  }
}

/** True when a WebGPU adapter can be obtained here (used by tests to decide whether to skip). */
export async function webGpuAvailable(): Promise<boolean> {
  try {
    await startTfjsWebGpu();
    return true;
  } catch {
    return false;
  }
}
