import { Module } from '@lowrank/core';

/** An indexed container (`layers.0`, `layers.1`, ...), as torch.nn.ModuleList. */
export class ModuleList<M extends Module> extends Module {
  constructor(items: readonly M[]) {
    super();
    items.forEach((m, i) => this.addModule(String(i), m));
  }

  /** Item i as it is now (adapters may have replaced children below it, never the item itself). */
  item(i: number): M {
    const m = this.children.get(String(i));
    if (!m) throw new RangeError(`module list '${this.path}' has no item ${i}`);
    return m as M;
  }

  get length(): number {
    return this.children.size;
  }
}
