import { webgpu_util, type WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

export interface ProgramSpec {
  readonly shaderKey: string;
  readonly variableNames: readonly string[];
  readonly outputShape: readonly number[];
  /** WGSL body of `main(index : i32)`; uniforms declared in `uniforms` are read as `uniforms.<name>`. */
  readonly body: string;
  /** Extra WGSL before main (helper functions, constants, workgroup memory). */
  readonly prelude?: string;
  readonly uniforms?: string;
  /** One workgroup per row of `rows` instead of one thread per output element. */
  readonly rows?: number;
  readonly workgroupSize?: number;
}

/**
 * A WebGPU program for tfjs's runner: it wraps our WGSL in tfjs's header
 * (storage buffers named after `variableNames`, `result`, `uniforms`).
 * Thread-per-element programs get `index`; row programs use workgroupId.x as
 * the row and localId.x as the lane.
 */
export class WgslProgram implements WebGPUProgram {
  readonly shaderKey: string;
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  readonly uniforms?: string;
  readonly size = true;
  private readonly spec: ProgramSpec;

  constructor(spec: ProgramSpec) {
    this.spec = spec;
    this.shaderKey = spec.shaderKey;
    this.variableNames = [...spec.variableNames];
    this.outputShape = [...spec.outputShape];
    this.workgroupSize = [spec.workgroupSize ?? 64, 1, 1];
    this.dispatchLayout = webgpu_util.flatDispatchLayout(this.outputShape);
    this.dispatch =
      spec.rows !== undefined
        ? [Math.max(1, spec.rows), 1, 1]
        : webgpu_util.computeDispatch(this.dispatchLayout, this.outputShape, this.workgroupSize);
    if (spec.uniforms) this.uniforms = spec.uniforms;
  }

  getUserCode(): string {
    return `
      ${this.spec.prelude ?? ''}
      fn main(index : i32) {
        ${this.spec.body}
      }
    `;
  }
}
