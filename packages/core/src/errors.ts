/** Base class of every error lowrank throws on purpose. */
export class LowrankError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that an op cannot combine. Names the op, the input shapes and the module that built it. */
export class ShapeError extends LowrankError {
  constructor(
    readonly op: string,
    readonly inputShapes: readonly (readonly number[])[],
    readonly modulePath: string,
    detail: string,
  ) {
    super(
      `${op}: ${detail} (input shapes ${inputShapes.map((s) => `[${s.join(', ')}]`).join(', ')}; ` +
        `built in module '${modulePath || '<root>'}'). Check the shapes passed to ${op}.`,
    );
  }
}

/** An input of the wrong element type. */
export class DTypeError extends LowrankError {
  constructor(
    readonly op: string,
    readonly inputDtypes: readonly string[],
    readonly modulePath: string,
    detail: string,
  ) {
    super(
      `${op}: ${detail} (input dtypes ${inputDtypes.join(', ')}; built in module '${modulePath || '<root>'}'). ` +
        `Cast the input with ops.cast before calling ${op}.`,
    );
  }
}

/** The graph has a cycle, so it has no schedule. */
export class GraphCycleError extends LowrankError {
  constructor(readonly nodes: readonly string[]) {
    super(
      `graph has a cycle through nodes ${nodes.join(' -> ')}; a dataflow graph must be acyclic. ` +
        `A value cannot depend on itself: break the loop by unrolling it.`,
    );
  }
}

/** An op name nobody declared. */
export class UnknownOpError extends LowrankError {
  constructor(
    readonly op: string,
    known: readonly string[],
  ) {
    super(`unknown op '${op}'. Declare it with defineOp before use; known ops: ${known.join(', ')}.`);
  }
}

/** A backend that cannot execute an op or dtype. */
export class UnsupportedOpError extends LowrankError {
  constructor(
    readonly backend: string,
    readonly op: string,
    detail = '',
  ) {
    super(
      `backend '${backend}' does not support op '${op}'${detail ? ` (${detail})` : ''}. ` +
        `Use another backend, or register a kernel for '${op}' on '${backend}'.`,
    );
  }
}

/** A feed, parameter or output that does not match the compiled signature. */
export class SignatureError extends LowrankError {}

/** Misuse of the graph API (values from two graphs, a missing name, ...). */
export class GraphError extends LowrankError {}
