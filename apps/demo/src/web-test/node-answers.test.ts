import { createCpuBackend } from '@lowrank/backend-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { testBase } from '../demo-base/test-cache.js';
import type { TaskExample } from '../tour/task.js';
import { nodeAnswers, tokenMismatches, topTwoLogits } from './node-answers.js';

const cpu = createCpuBackend();
afterAll(() => cpu.dispose());

describe("the web test's Node side", () => {
  it('finds a row that differs at its first differing step, with the top-2 margin of a full forward there', async () => {
    const { dir } = await testBase();
    const examples: TaskExample[] = ['first: dog cat sun ->', 'first: war day man ->', 'last: sun dog car ->'].map((prompt) => ({ task: 'first', prompt, answer: ' dog' }));
    const node = await nodeAnswers(cpu, dir, undefined, examples, { batchSize: 3, maxNewTokens: 4 });
    expect(node.match.generatedIds.map((ids) => ids.length)).toEqual([4, 4, 4]); // the base model does not stop after a word
    expect(await tokenMismatches(node, node.match.generatedIds)).toEqual([]);

    // The cached, batched greedy token is the argmax of a full forward over the same prefix (no cache).
    const row = 1;
    const step = 2;
    const prefix = [...node.match.promptIds[row], ...node.match.generatedIds[row].slice(0, step)];
    const top = await topTwoLogits(cpu, node.model, node.values, prefix);
    expect(top.best).toBe(node.match.generatedIds[row][step]);
    expect(top.bestLogit).toBeGreaterThan(top.secondLogit);

    // A page that took the runner-up there is reported at that row and step, with Node's margin.
    const page = node.match.generatedIds.map((ids) => [...ids]);
    page[row][step] = top.second;
    page[row][step + 1] = 0;
    const [d, ...rest] = await tokenMismatches(node, page);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ row, step, page: top.second, node: top.best, pageIsRunnerUp: true });
    expect(d.margin).toBeCloseTo(top.bestLogit - top.secondLogit, 6);
  }, 300_000);
});
