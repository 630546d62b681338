import { describe, expect, it } from 'vitest';
import type { Backend, HostTensor } from '../backend/backend.js';
import { createReferenceBackend } from '../backend/reference-backend.js';
import { SignatureError } from '../errors.js';
import { ArrayStream, batchOf, buildLoraLm, initialValues, makeRows } from './fixture.test-support.js';
import { Trainer } from './trainer.js';

/**
 * The reference backend, made as strict as backend-webgpu about feeds: a feed
 * the graph does not declare is an error.
 */
function strictBackend(): Backend {
  const inner = createReferenceBackend();
  return {
    ...inner,
    async compile(graph, signature) {
      const exe = await inner.compile(graph, signature);
      return {
        ...exe,
        report: exe.report,
        setParameters: (v) => exe.setParameters(v),
        getParameters: (n) => exe.getParameters(n),
        dispose: () => exe.dispose(),
        run(feeds: Readonly<Record<string, HostTensor>>) {
          for (const n of Object.keys(feeds)) {
            if (!graph.inputs.has(n)) throw new SignatureError(`feed '${n}' is not an input of the graph`);
          }
          return exe.run(feeds);
        },
      };
    },
  };
}

describe('hook feeds', () => {
  it('reach a graph only when it declares them, in training and in evaluation', async () => {
    const scale = (v: number): HostTensor => ({ shape: [], dtype: 'f32', data: Float32Array.of(v) });
    const t = await Trainer.create({
      backend: strictBackend(),
      build: buildLoraLm(2, 4, 0, true),
      parameters: initialValues(),
      optimizer: { kind: 'sgd', lr: 0.1 },
      steps: 2,
      data: new ArrayStream(makeRows(4, 4), 2),
      // 'lora.scale' is declared by the graph; 'unused.mask' (as a method's optional mask) is not.
      hooks: [{ name: 'extra', feeds: () => ({ 'lora.scale': scale(2), 'unused.mask': scale(1) }), evalFeeds: () => ({ 'lora.scale': scale(2), 'unused.mask': scale(1) }) }],
    });
    const m = await t.trainStep();
    expect(Number.isFinite(m.loss)).toBe(true);
    const ev = await t.evaluate([batchOf(makeRows(2, 4, 9))]);
    expect(Number.isFinite(ev.loss)).toBe(true);
  });
});
