import type { DType } from '../dtype.js';
import { GraphError } from '../errors.js';
import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import type { Shape } from '../shape.js';

/** A parameter a module declares: its shape, dtype and whether training updates it. */
export interface ParamSpec {
  shape: Shape;
  dtype: DType;
  trainable: boolean;
}

/**
 * A node of the model tree, like torch.nn.Module. A module knows its dotted
 * path (`model.layers.0.self_attn.q_proj`), so the parameters it traces into a
 * graph carry Hugging Face's names. Values live outside, in a state dict keyed
 * by those names; the module only describes and traces.
 */
export abstract class Module {
  /** Dotted path from the root; set when the module is attached to a parent. */
  path = '';
  private readonly childMap = new Map<string, Module>();
  private readonly paramMap = new Map<string, ParamSpec>();

  protected addModule<M extends Module>(name: string, m: M): M {
    this.childMap.set(name, m);
    m.setPath(this.join(name));
    return m;
  }

  protected addParam(name: string, shape: Shape, opts: { dtype?: DType; trainable?: boolean } = {}): void {
    this.paramMap.set(name, { shape: [...shape], dtype: opts.dtype ?? 'f32', trainable: opts.trainable ?? false });
  }

  /** Re-roots this module and its children under `path`. */
  setPath(path: string): void {
    this.path = path;
    for (const [name, c] of this.childMap) c.setPath(this.join(name));
  }

  private join(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  get children(): ReadonlyMap<string, Module> {
    return this.childMap;
  }

  get localParams(): ReadonlyMap<string, ParamSpec> {
    return this.paramMap;
  }

  /** The graph tensor of local parameter `name`, declared on first use (so tied weights share one). */
  protected p(graph: Graph, name: string): Tensor {
    const spec = this.paramMap.get(name);
    if (!spec) throw new GraphError(`module '${this.path}' has no parameter '${name}'`);
    const full = this.join(name);
    return graph.params.has(full) ? graph.paramTensor(full) : graph.param(full, spec.shape, spec);
  }

  /** Every module below (and including) this one, with its path. */
  *modules(): Generator<Module> {
    yield this;
    for (const c of this.childMap.values()) yield* c.modules();
  }

  /** Every parameter below this module, by full name. */
  namedParams(): Map<string, ParamSpec> {
    const out = new Map<string, ParamSpec>();
    for (const m of this.modules()) for (const [n, s] of m.paramMap) out.set(m.join(n), s);
    return out;
  }

  /** The module at a dotted path relative to this one. */
  getSubmodule(rel: string): Module {
    return rel
      .split('.')
      .filter(Boolean)
      .reduce<Module>((m, part) => {
        const c = m.childMap.get(part);
        if (!c) throw new GraphError(`module '${m.path || '<root>'}' has no child '${part}' (looking for '${rel}')`);
        return c;
      }, this);
  }

  /**
   * Replaces the module at `rel` (how adapters wrap a layer). The replacement
   * keeps the old path, so the wrapped layer's own parameters keep their names.
   */
  replaceSubmodule(rel: string, replacement: Module): void {
    const parts = rel.split('.');
    const last = parts.pop()!;
    const parent = parts.length ? this.getSubmodule(parts.join('.')) : this;
    const old = parent.childMap.get(last);
    if (!old) throw new GraphError(`module '${parent.path || '<root>'}' has no child '${last}'`);
    parent.childMap.set(last, replacement);
    // Not old.path: a wrapper that adopted `old` as its child has already re-rooted it.
    replacement.setPath(parent.join(last));
  }

  /**
   * Declares local parameter `name` at another storage dtype (a frozen base
   * weight held as bf16, say); modules upcast such a value where they use it.
   */
  setParamDtype(name: string, dtype: DType): void {
    const spec = this.paramMap.get(name);
    if (!spec) throw new GraphError(`module '${this.path}' has no parameter '${name}'`);
    spec.dtype = dtype;
  }

  /** Marks every parameter below as trainable or frozen. */
  setTrainable(trainable: boolean, filter: (fullName: string) => boolean = () => true): void {
    for (const m of this.modules()) for (const [n, s] of m.paramMap) if (filter(m.join(n))) s.trainable = trainable;
  }
}
