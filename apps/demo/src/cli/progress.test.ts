import { describe, expect, it } from 'vitest';
import type { StepMetrics } from '@lowrank/core';
import { formatDuration, Progress, progressMode } from './progress.js';

const step = (n: number): StepMetrics => ({ type: 'step', step: n, loss: 2 / n, lr: 1e-3, gradNorm: 0.5, tokens: 100, tokensPerSecond: 2500, stepMs: 40, measuredPeakBytes: 0 });

function sink(isTTY = false) {
  const chunks: string[] = [];
  return { out: { isTTY, write: (s: string) => chunks.push(s) }, text: () => chunks.join('') };
}

describe('progress output', () => {
  it('picks json, then tty, then plain', () => {
    expect(progressMode(true, { isTTY: true, write: () => 0 })).toBe('json');
    expect(progressMode(false, { isTTY: true, write: () => 0 })).toBe('tty');
    expect(progressMode(false, { write: () => 0 })).toBe('plain');
  });

  it('draws a bar with loss, tokens/s and ETA on a terminal', () => {
    let now = 0;
    const s = sink(true);
    const p = new Progress('tty', s.out, 4, () => now);
    p.step(step(1));
    now = 2000; // 2 s per step after the first
    p.step(step(2));
    const last = s.text().split('\r\x1b[2K').at(-1)!;
    expect(last).toBe('[############............] step 2/4 loss 1.0000 lr 1.00e-3 |g| 0.500 2.5k tok/s ETA 0:04');
  });

  it("prints hooks' metrics: scalars and the total active rank in the line, everything as flat JSON keys", () => {
    const metrics = { activeRanks: { q: 3, v: 2 }, rankDistribution: { '2': 1, '3': 1 }, budget: 5, layerImportance: { q: 0.25, v: 0.5 } };
    const plain = sink();
    new Progress('plain', plain.out, 1).step({ ...step(1), metrics });
    expect(plain.text()).toBe('step 1/1 loss 2.0000 lr 1.00e-3 |g| 0.500 2.5k tok/s rank Σ 5 budget 5 ETA --:--\n');
    const json = sink();
    new Progress('json', json.out, 1).step({ ...step(1), metrics });
    const event = JSON.parse(json.text()) as Record<string, unknown>;
    expect(event.activeRanks).toEqual({ q: 3, v: 2 });
    expect(event.layerImportance).toEqual({ q: 0.25, v: 0.5 });
    expect(event.budget).toBe(5);
    expect(event.loss).toBe(2);
    expect('metrics' in event).toBe(false);
  });

  it('writes plain lines when not a terminal and JSON lines with --json', () => {
    const plain = sink();
    const p = new Progress('plain', plain.out, 40);
    for (let i = 1; i <= 40; i++) p.step(step(i));
    const lines = plain.text().trim().split('\n');
    expect(lines).toHaveLength(21); // the first step, then every 2nd step (5%)
    expect(lines.every((l) => l.startsWith('step ') && !l.includes('\r'))).toBe(true);

    const json = sink();
    const j = new Progress('json', json.out, 2);
    j.step(step(1));
    j.eval({ type: 'eval', step: 1, loss: 1.5, perplexity: Math.exp(1.5), tokens: 10 });
    const events = json.text().trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ event: 'step', step: 1, loss: 2, tokensPerSecond: 2500 });
    expect(events[1]).toEqual({ event: 'eval', step: 1, loss: 1.5, perplexity: Math.exp(1.5), tokens: 10 });
  });

  it('formats durations', () => {
    expect([formatDuration(5), formatDuration(65), formatDuration(3725), formatDuration(NaN)]).toEqual(['0:05', '1:05', '1:02:05', '--:--']);
  });
});
