// Held-out prompts side by side: what the base model answered and what each fine-tuned method answered.
// Every answer is a greedy generation made during this run (see accuracy.ts), not a stored string.
import type { MethodResult } from './train-method.js';
import type { SampleAnswers } from './tour-types.js';

/** The first `count` held-out prompts, answered by the base (the first method's "before") and every method. */
export function pickSamples(methods: readonly (readonly [string, MethodResult])[], count: number): SampleAnswers[] {
  const baseAnswers = methods[0][1].matchBefore.answers;
  return baseAnswers.slice(0, count).map((b, i) => {
    const answers: Record<string, string> = {};
    for (const [label, r] of methods) {
      const a = r.matchAfter.answers[i];
      if (a.prompt !== b.prompt) throw new Error(`method ${label} answered other prompts than the base model (${a.prompt} vs ${b.prompt})`);
      answers[label] = a.answer;
    }
    return { prompt: b.prompt, expected: b.expected, base: b.answer, answers };
  });
}

const show = (s: string) => JSON.stringify(s.trim());

/** The samples as a text block for the terminal: one prompt, then one line per model, a check for exact answers. */
export function formatSamples(samples: readonly SampleAnswers[]): string {
  const lines: string[] = ['held-out prompts, answered by greedy decoding (✓ = exact match):'];
  for (const s of samples) {
    const labels = ['base model', ...Object.keys(s.answers)];
    const width = Math.max(...labels.map((l) => l.length));
    lines.push(`  ${s.prompt}   expected: ${show(s.expected)}`);
    const mark = (a: string) => (a === s.expected ? ' ✓' : '');
    lines.push(`    ${'base model'.padEnd(width)}  ${show(s.base)}${mark(s.base)}`);
    for (const [label, a] of Object.entries(s.answers)) lines.push(`    ${label.padEnd(width)}  ${show(a)}${mark(a)}`);
  }
  return lines.join('\n');
}
