import { GraphError } from '../errors.js';
import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import type { Shape } from '../shape.js';

/**
 * What a step hook may add to the training step graph (`StepHook.extendStep`):
 * resident state updated by the graph itself, read from the step's gradients
 * and new parameter values, so nothing has to go to the host between steps.
 */
export interface StepGraphContext {
  readonly graph: Graph;
  /** Trainable parameter names, in the order the trainer updates them. */
  readonly trainable: readonly string[];
  /** Bool scalar: this run completes an optimizer step with a finite loss and gradient (the update is applied). */
  readonly commit: Tensor;
  /** The accumulated, unclipped gradient of trainable parameter `name` (what `grad:<name>` exposes). */
  gradient(name: string): Tensor;
  /** The value trainable parameter `name` takes after this run (the old value when the step is not committed). */
  newValue(name: string): Tensor;
  /** Replaces the value trainable parameter `name` takes after this run (a mask applied after the update, say). */
  setNewValue(name: string, value: Tensor): void;
  /** An f32 input the hook's `feeds` give every training micro-batch (declared once per name). */
  input(name: string, shape?: Shape): Tensor;
  /** Declares resident state `name`, filled with `init` when training starts; returns its value at the start of the run. */
  state(name: string, shape: Shape, init: number): Tensor;
  /** The value state `name` takes after this run. */
  setState(name: string, next: Tensor): void;
  /** A named graph output, computed on every run and given to `afterStep` in `outputs` (keep it small: it goes to the host). */
  output(name: string, value: Tensor): void;
}

/** State a hook declared: resident, saved with the trainer state, set to `init` at start. */
export interface HookStateDecl {
  readonly name: string;
  readonly shape: Shape;
  readonly init: number;
  readonly value: Tensor;
  next?: Tensor;
}

/** The context given to hooks, and what they declared through it. */
export interface StepGraphRecorder {
  readonly context: StepGraphContext;
  readonly states: readonly HookStateDecl[];
  readonly outputs: ReadonlyMap<string, Tensor>;
}

export function stepGraphRecorder(
  graph: Graph,
  gradients: ReadonlyMap<string, Tensor>,
  newValues: Map<string, Tensor>,
  commit: Tensor,
): StepGraphRecorder {
  const states = new Map<string, HookStateDecl>();
  const outputs = new Map<string, Tensor>();
  const trainable = (name: string, what: string): void => {
    if (!newValues.has(name)) throw new GraphError(`${what}: '${name}' is not a trainable parameter of the training graph; hooks may read and replace trainable parameters only`);
  };
  const context: StepGraphContext = {
    graph,
    trainable: [...newValues.keys()],
    commit,
    gradient(name) {
      trainable(name, 'gradient');
      return gradients.get(name)!;
    },
    newValue(name) {
      trainable(name, 'newValue');
      return newValues.get(name)!;
    },
    setNewValue(name, value) {
      trainable(name, 'setNewValue');
      newValues.set(name, value);
    },
    input(name, shape = []) {
      const known = graph.inputs.get(name);
      return known ? graph.tensor(known.id) : graph.input(name, shape, 'f32');
    },
    state(name, shape, init) {
      if (states.has(name) || graph.params.has(name)) throw new GraphError(`hook state '${name}' is declared twice or clashes with a parameter; give each hook state a unique name`);
      const value = graph.param(name, shape);
      states.set(name, { name, shape, init, value });
      return value;
    },
    setState(name, next) {
      const s = states.get(name);
      if (!s) throw new GraphError(`hook state '${name}' is not declared; call state('${name}', shape, init) first`);
      s.next = next;
    },
    output(name, value) {
      if (outputs.has(name) || graph.outputs.has(name)) throw new GraphError(`output '${name}' already exists in the training graph; give hook outputs unique names`);
      outputs.set(name, value);
    },
  };
  return {
    context,
    get states() {
      return [...states.values()];
    },
    outputs,
  };
}
