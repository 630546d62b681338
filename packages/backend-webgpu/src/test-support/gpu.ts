import { tmpdir } from 'node:os';
import { webGpuAvailable } from '../gpu-setup.js';

// Vulkan loaders warn when this is unset; a temp dir keeps test output clean.
process.env.XDG_RUNTIME_DIR ??= tmpdir();

/** Whether this machine has a WebGPU adapter (Dawn on lavapipe, or a GPU). */
export const HAVE_GPU = await webGpuAvailable();

/**
 * Outside CI a machine without an adapter skips the WebGPU tests (saying why);
 * under CI=true they run and fail, since CI installs lavapipe.
 */
export const SKIP_GPU = !HAVE_GPU && process.env.CI !== 'true';

if (SKIP_GPU) {
  console.warn(
    '[backend-webgpu] skipping WebGPU tests: no WebGPU adapter (install Mesa >= 25 lavapipe: sudo bash scripts/ensure-system-deps.sh)',
  );
}
