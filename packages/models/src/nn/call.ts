import { GraphError, type Module, type Tensor } from '@lowrank/core';

/** A module with a one-input forward (Linear, a LoRA wrapper around one, a norm, ...). */
export interface UnaryModule extends Module {
  forward(x: Tensor): Tensor;
}

/**
 * Runs child `name` of `parent` on x. The child is looked up at trace time,
 * not captured at construction, so a layer swapped in by replaceSubmodule (an
 * adapter wrapping q_proj, say) is the one traced; nodes carry its module path.
 */
export function callChild(parent: Module, name: string, x: Tensor): Tensor {
  const child = parent.children.get(name) as UnaryModule | undefined;
  if (!child || typeof child.forward !== 'function') {
    throw new GraphError(`module '${parent.path || '<root>'}' has no callable child '${name}'`);
  }
  const g = x.graph;
  return g.at(child.path, g.currentSegments, () => child.forward(x));
}

/** Child module `name`, typed by the caller. */
export function childOf<M extends Module>(parent: Module, name: string): M {
  const child = parent.children.get(name);
  if (!child) throw new GraphError(`module '${parent.path || '<root>'}' has no child '${name}'`);
  return child as M;
}
