import type { EvalMetrics, HookMetric, StepMetrics } from '@lowrank/core';

export type ProgressMode = 'tty' | 'plain' | 'json';

export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Picks the mode: `--json` wins, then a terminal gets the live bar, anything else plain lines. */
export function progressMode(json: boolean, out: ProgressOutput): ProgressMode {
  return json ? 'json' : out.isTTY ? 'tty' : 'plain';
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function formatRate(tokensPerSecond: number): string {
  return tokensPerSecond >= 1000 ? `${(tokensPerSecond / 1000).toFixed(1)}k` : tokensPerSecond.toFixed(0);
}

/**
 * Training progress: a redrawn bar with loss, tokens/s and ETA on a terminal,
 * a plain line every ~5% otherwise, one JSON object per line with `--json`.
 */
export class Progress {
  private readonly started = performance.now();
  private firstStep?: number;
  private startStep?: number;
  private lastLine = '';

  constructor(
    private readonly mode: ProgressMode,
    private readonly out: ProgressOutput,
    private readonly total: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** ETA from the mean time of the steps after the first (which includes compilation). */
  eta(step: number): number {
    if (this.firstStep === undefined || this.startStep === undefined || step <= this.startStep) return NaN;
    const perStep = (this.now() - this.firstStep) / (step - this.startStep);
    return ((this.total - step) * perStep) / 1000;
  }

  step(m: StepMetrics): void {
    if (this.firstStep === undefined) {
      this.firstStep = this.now();
      this.startStep = m.step;
    }
    if (this.mode === 'json') {
      // Hook metrics (active ranks, importance) sit beside the core fields, as flat keys of the event.
      this.out.write(JSON.stringify({ event: 'step', ...m.metrics, ...m, metrics: undefined, type: undefined, etaSeconds: round(this.eta(m.step)) }) + '\n');
      return;
    }
    const pct = Math.min(1, m.step / this.total);
    const text = `step ${m.step}/${this.total} loss ${m.loss.toFixed(4)} lr ${m.lr.toExponential(2)} |g| ${m.gradNorm.toFixed(3)} ${formatRate(m.tokensPerSecond)} tok/s${formatHookMetrics(m.metrics)} ETA ${formatDuration(this.eta(m.step))}`;
    if (this.mode === 'tty') {
      const width = 24;
      const filled = Math.round(pct * width);
      this.lastLine = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`;
      this.out.write(`\r\x1b[2K${this.lastLine}`);
      if (m.step >= this.total) this.out.write('\n');
      return;
    }
    const every = Math.max(1, Math.round(this.total / 20));
    if (m.step % every === 0 || m.step === this.total || m.step === (this.startStep ?? 0)) this.out.write(`${text}\n`);
  }

  eval(m: EvalMetrics): void {
    if (this.mode === 'json') {
      this.out.write(JSON.stringify({ event: 'eval', step: m.step, loss: m.loss, perplexity: m.perplexity, tokens: m.tokens }) + '\n');
      return;
    }
    const line = `eval @ step ${m.step}: loss ${m.loss.toFixed(4)} perplexity ${m.perplexity.toFixed(3)} (${m.tokens} tokens)`;
    if (this.mode === 'tty') {
      this.out.write(`\r\x1b[2K${line}\n`);
      if (this.lastLine) this.out.write(this.lastLine);
    } else this.out.write(`${line}\n`);
  }

  /** A note for humans (checkpoint saved, resumed from ...); JSON mode emits it as an event. */
  note(text: string, fields: Record<string, unknown> = {}): void {
    if (this.mode === 'json') this.out.write(JSON.stringify({ event: 'note', message: text, ...fields }) + '\n');
    else this.out.write(`${this.mode === 'tty' ? '\r\x1b[2K' : ''}${text}\n`);
  }

  get elapsedSeconds(): number {
    return (this.now() - this.started) / 1000;
  }
}

/**
 * Hook metrics in a step line: every scalar as itself, and the total of the
 * per-module active ranks; per-module records and vectors appear in --json only.
 */
export function formatHookMetrics(metrics: Readonly<Record<string, HookMetric>> | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(metrics ?? {})) {
    if (typeof v === 'number') parts.push(`${k} ${Number(v.toPrecision(4))}`);
    else if (!Array.isArray(v) && k === 'activeRanks') parts.push(`rank Σ ${Object.values(v).reduce((a, b) => a + b, 0)}`);
  }
  return parts.length ? ` ${parts.join(' ')}` : '';
}

function round(x: number): number | null {
  return Number.isFinite(x) ? Math.round(x * 10) / 10 : null;
}
