import { MultiDirectedGraph } from 'graphology';
import type { DType } from '../dtype.js';
import { GraphError } from '../errors.js';
import type { Shape } from '../shape.js';
import type { Attrs, NodeData } from './node.js';
import { Tensor } from './tensor.js';

/** A named parameter of a graph: frozen or trainable. */
export interface ParamInfo {
  readonly name: string;
  readonly id: string;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly trainable: boolean;
}

/** A named runtime input of a graph. */
export interface InputInfo {
  readonly name: string;
  readonly id: string;
  readonly shape: Shape;
  readonly dtype: DType;
}

export interface AddNodeSpec {
  op: string;
  inputs: readonly string[];
  attrs: Attrs;
  shape: Shape;
  dtype: DType;
  recomputeOf?: string;
  backward?: boolean;
  modulePath?: string;
  segments?: readonly string[];
}

/**
 * A dataflow graph on graphology: nodes are op applications, edges run from
 * each input to its consumer (one edge per input slot, so `mul(x, x)` has two).
 */
export class Graph {
  readonly g = new MultiDirectedGraph<NodeData>({ allowSelfLoops: false });
  readonly params = new Map<string, ParamInfo>();
  readonly inputs = new Map<string, InputInfo>();
  readonly outputs = new Map<string, string>();
  private counter = 0;

  /** Creation index the next node will get (node ids are `n<index>`, increasing). */
  get nextCreationIndex(): number {
    return this.counter;
  }
  private scopeStack: string[] = [];
  private segmentStack: string[] = [];
  private backwardDepth = 0;
  private randomOrdinals = new Map<string, number>();

  // ---- construction -------------------------------------------------------

  /** Low-level node creation; ops call this after inferring shape and dtype. */
  addNode(spec: AddNodeSpec): Tensor {
    for (const i of spec.inputs) {
      if (!this.g.hasNode(i)) throw new GraphError(`input node '${i}' of ${spec.op} is not in this graph`);
    }
    const id = `n${this.counter++}`;
    const data: NodeData = {
      id,
      op: spec.op,
      inputs: [...spec.inputs],
      attrs: spec.attrs,
      shape: [...spec.shape],
      dtype: spec.dtype,
      modulePath: spec.modulePath ?? this.modulePath,
      segments: spec.segments ?? [...this.segmentStack],
      ...(spec.recomputeOf !== undefined ? { recomputeOf: spec.recomputeOf } : {}),
      ...((spec.backward ?? this.backwardDepth > 0) ? { backward: true } : {}),
    };
    this.g.addNode(id, data);
    for (const i of spec.inputs) this.g.addEdge(i, id);
    return this.tensor(id);
  }

  /** A runtime input (batch tokens, labels, seed, step ...). */
  input(name: string, shape: Shape, dtype: DType = 'f32'): Tensor {
    if (this.inputs.has(name) || this.params.has(name)) throw new GraphError(`name '${name}' is already used in this graph`);
    const t = this.addNode({ op: 'input', inputs: [], attrs: { name }, shape, dtype });
    this.inputs.set(name, { name, id: t.id, shape: [...shape], dtype });
    return t;
  }

  /** A named parameter, named as Hugging Face names it. Frozen parameters get no gradient work. */
  param(name: string, shape: Shape, opts: { trainable?: boolean; dtype?: DType } = {}): Tensor {
    if (this.inputs.has(name) || this.params.has(name)) throw new GraphError(`name '${name}' is already used in this graph`);
    const dtype = opts.dtype ?? 'f32';
    const trainable = opts.trainable ?? false;
    const t = this.addNode({ op: 'param', inputs: [], attrs: { name, trainable }, shape, dtype });
    this.params.set(name, { name, id: t.id, shape: [...shape], dtype, trainable });
    return t;
  }

  /** Marks a value as a named output of the graph. */
  output(name: string, t: Tensor): void {
    this.assertOwn(t);
    this.outputs.set(name, t.id);
  }

  /** Runs `fn` with `name` appended to the module path of every node it creates. */
  scope<T>(name: string, fn: () => T): T {
    this.scopeStack.push(name);
    try {
      return fn();
    } finally {
      this.scopeStack.pop();
    }
  }

  /** Runs `fn` with every node it creates tagged as part of checkpoint segment `name`. */
  segment<T>(name: string, fn: () => T): T {
    this.segmentStack.push(name);
    try {
      return fn();
    } finally {
      this.segmentStack.pop();
    }
  }

  /** Runs `fn` with every node it creates tagged as backward. */
  inBackward<T>(fn: () => T): T {
    this.backwardDepth++;
    try {
      return fn();
    } finally {
      this.backwardDepth--;
    }
  }

  /** Runs `fn` as if traced inside module `modulePath` and `segments` (used by graph passes). */
  at<T>(modulePath: string, segments: readonly string[], fn: () => T): T {
    const [scopes, segs] = [this.scopeStack, this.segmentStack];
    this.scopeStack = modulePath ? [modulePath] : [];
    this.segmentStack = [...segments];
    try {
      return fn();
    } finally {
      this.scopeStack = scopes;
      this.segmentStack = segs;
    }
  }

  /** The i32 scalar inputs `rng.seed` and `rng.step` that key every random op. */
  rngInputs(): { seed: Tensor; step: Tensor } {
    const get = (name: string) => {
      const i = this.inputs.get(name);
      return i ? this.tensor(i.id) : this.at('', [], () => this.input(name, [], 'i32'));
    };
    return { seed: get('rng.seed'), step: get('rng.step') };
  }

  /** Order of the next random op within the current module. */
  nextRandomOrdinal(): number {
    const k = this.modulePath;
    const n = this.randomOrdinals.get(k) ?? 0;
    this.randomOrdinals.set(k, n + 1);
    return n;
  }

  get currentSegments(): readonly string[] {
    return this.segmentStack;
  }

  get modulePath(): string {
    return this.scopeStack.join('.');
  }

  // ---- queries ------------------------------------------------------------

  node(id: string): NodeData {
    if (!this.g.hasNode(id)) throw new GraphError(`node '${id}' is not in this graph`);
    return this.g.getNodeAttributes(id);
  }

  has(id: string): boolean {
    return this.g.hasNode(id);
  }

  tensor(id: string): Tensor {
    const n = this.node(id);
    return new Tensor(this, id, n.shape, n.dtype);
  }

  paramTensor(name: string): Tensor {
    const p = this.params.get(name);
    if (!p) throw new GraphError(`graph has no parameter '${name}'`);
    return this.tensor(p.id);
  }

  outputTensor(name: string): Tensor {
    const id = this.outputs.get(name);
    if (id === undefined) throw new GraphError(`graph has no output '${name}'; outputs: ${[...this.outputs.keys()].join(', ')}`);
    return this.tensor(id);
  }

  nodeIds(): string[] {
    return this.g.nodes();
  }

  get size(): number {
    return this.g.order;
  }

  /** Distinct consumers of a node. */
  consumers(id: string): string[] {
    return this.g.outNeighbors(id);
  }

  assertOwn(t: Tensor): void {
    if (t.graph !== this) throw new GraphError(`${t} belongs to another graph`);
  }

  // ---- rewriting ----------------------------------------------------------

  /** Replaces the inputs of a node, keeping edges in step. Used by graph passes. */
  setInputs(id: string, inputs: readonly string[]): void {
    const n = this.node(id);
    for (const e of this.g.inEdges(id)) this.g.dropEdge(e);
    for (const i of inputs) {
      if (!this.g.hasNode(i)) throw new GraphError(`input node '${i}' is not in this graph`);
      this.g.addEdge(i, id);
    }
    this.g.replaceNodeAttributes(id, { ...n, inputs: [...inputs] });
  }

  /** Redirects every use of `from` (as an input or an output) to `to`. */
  replaceUses(from: string, to: string, filter: (consumer: string) => boolean = () => true): void {
    for (const c of this.consumers(from)) {
      if (c === to || !filter(c)) continue;
      const n = this.node(c);
      this.setInputs(
        c,
        n.inputs.map((i) => (i === from ? to : i)),
      );
    }
  }

  removeNode(id: string): void {
    const n = this.node(id);
    if (n.op === 'param') this.params.delete(String(n.attrs.name));
    if (n.op === 'input') this.inputs.delete(String(n.attrs.name));
    this.g.dropNode(id);
  }
}
