// A first look at @lowrank/core: build a two-layer MLP, differentiate it,
// and train it with plain gradient descent on the float64 reference backend.
import { createReferenceBackend, dumpGraph, eliminateDeadCode, Graph, gradTrainable, ops, type HostTensor } from '@lowrank/core';

const g = new Graph();
const x = g.input('x', [8, 2]);
const y = g.input('y', [8, 1]);
const w1 = g.param('mlp.fc1.weight', [16, 2], { trainable: true });
const b1 = g.param('mlp.fc1.bias', [16], { trainable: true });
const w2 = g.param('mlp.fc2.weight', [1, 16], { trainable: true });
const h = g.scope('mlp', () => ops.tanh(ops.add(ops.matmul(x, w1, { transB: true }), b1)));
const pred = ops.matmul(h, w2, { transB: true });
const loss = ops.mean(ops.square(ops.sub(pred, y)));
g.output('loss', loss);
const lr = 0.5;
for (const [name, gr] of gradTrainable(loss)) {
  g.output(`new:${name}`, ops.sub(g.paramTensor(name), ops.mul(gr, lr)));
}
eliminateDeadCode(g);
console.log(`graph: ${g.size} nodes; forward:`);
console.log(dumpGraph(g, [loss.id]));

const rand = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 0.5);
const xs = rand(16, 1);
const ys = Float32Array.from({ length: 8 }, (_, i) => Math.sin(3 * xs[2 * i]) * Math.cos(2 * xs[2 * i + 1]));
const t = (shape: number[], data: Float32Array): HostTensor => ({ shape, dtype: 'f32', data });

const backend = createReferenceBackend();
const exe = await backend.compile(g, { outputs: ['loss'], updates: Object.fromEntries([...g.params.keys()].map((n) => [n, `new:${n}`])) });
await exe.setParameters({ 'mlp.fc1.weight': t([16, 2], rand(32, 2)), 'mlp.fc1.bias': t([16], rand(16, 3)), 'mlp.fc2.weight': t([1, 16], rand(16, 4)) });
for (let step = 0; step <= 200; step++) {
  const { loss: l } = await exe.run({ x: t([8, 2], xs), y: t([8, 1], ys) });
  if (step % 40 === 0) console.log(`step ${step.toString().padStart(3)}  loss ${l.data[0].toExponential(4)}`);
}
