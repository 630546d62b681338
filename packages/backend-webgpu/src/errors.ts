import { LowrankError } from '@lowrank/core';

/** No WebGPU adapter: the backend refuses to start rather than silently run elsewhere. */
export class WebGpuUnavailableError extends LowrankError {
  constructor(detail: string) {
    super(
      `WebGPU is not available: ${detail}. In Node, install a Vulkan driver (on Debian 12: Mesa >= 25 lavapipe from ` +
        `bookworm-backports, see scripts/ensure-system-deps.sh); in a browser, use one with WebGPU enabled ` +
        `(Chromium: --enable-unsafe-webgpu). Or choose another backend (@lowrank/backend-cpu).`,
    );
  }
}

/** The tfjs engine holds one WebGPU device per process or page; a second, different adapter cannot be used. */
export class WebGpuAdapterConflictError extends LowrankError {
  constructor() {
    super(
      'a WebGPU backend is already running on another adapter in this process; tfjs keeps one WebGPU device per ' +
        'process or page. Create every backend with the same adapter, or omit `adapter` to reuse the running one.',
    );
  }
}

/** A kernel failed while running a compiled graph; names the op, the graph node and its module. */
export class WebGpuKernelError extends LowrankError {
  constructor(op: string, node: string, modulePath: string, inputShapes: readonly (readonly number[])[], cause: unknown) {
    super(
      `webgpu kernel for '${op}' (node ${node}, module '${modulePath || '<root>'}', input shapes ` +
        `${inputShapes.map((s) => `[${s.join(', ')}]`).join(', ')}) failed: ${cause instanceof Error ? cause.message : String(cause)}. ` +
        `Check the shapes and dtypes reaching this op, or run the graph on the reference backend to compare.`,
    );
  }
}

/** The WebGPU device reported errors (an invalid shader, out of memory) while a graph ran; its results are not trusted. */
export class WebGpuDeviceError extends LowrankError {
  constructor(readonly messages: readonly string[]) {
    super(
      `the WebGPU device reported ${messages.length} error(s) while the graph ran, so its outputs were discarded ` +
        `and parameters were not updated. First: ${messages[0]?.split('\n')[0] ?? ''}. An invalid shader points at a ` +
        `kernel bug (report it with the graph); out-of-memory needs smaller batches or a checkpoint policy.`,
    );
  }
}
