import type { TensorReadMeter } from '@lowrank/models';
import type { QuantizedLayerEvent } from '@lowrank/variants';
import type { ProgressMode, ProgressOutput } from './progress.js';

const MB = 1e6;

/** eval and generate report loading on stderr only for checkpoints this large (where loading takes a while). */
export const QUIET_BELOW_BYTES = 256e6;

/**
 * Progress while a large model loads, up to its first training step: shards
 * opened, MB of tensor bytes read and MB/s (from the loader's TensorReadMeter),
 * base layers quantized n/N, and "first step after X s". Plain lines at most
 * once per `intervalMs` (and at each phase's end); one JSON object per line
 * with `--json` (`event: "load"`).
 */
export interface LoadProgressOptions {
  readonly now?: () => number;
  /** Least time between two throttled lines (default 1 s). */
  readonly intervalMs?: number;
  /** Stay silent for checkpoints smaller than this (a command whose stderr should stay empty for small models). */
  readonly minFileBytes?: number;
}

export class LoadProgress {
  private readonly started: number;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private lastLine = -Infinity;
  private muted = false;
  private unsubscribe?: () => void;
  private meter?: TensorReadMeter;

  constructor(
    private readonly mode: ProgressMode,
    private readonly out: ProgressOutput,
    private readonly opts: LoadProgressOptions = {},
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.intervalMs = opts.intervalMs ?? 1000;
    this.started = this.now();
  }

  get seconds(): number {
    return (this.now() - this.started) / 1000;
  }

  private emit(phase: string, text: string, fields: Record<string, unknown>): void {
    if (this.muted) return;
    this.lastLine = this.now();
    if (this.mode === 'json') this.out.write(JSON.stringify({ event: 'load', phase, seconds: round(this.seconds), ...fields }) + '\n');
    else this.out.write(`${this.mode === 'tty' ? '\r\x1b[2K' : ''}${text}\n`);
  }

  private due(): boolean {
    return this.now() - this.lastLine >= this.intervalMs;
  }

  /** The model's headers were read: nothing else yet. */
  opened(source: string, shards: number, fileBytes: number, held: string): void {
    if (fileBytes < (this.opts.minFileBytes ?? 0)) this.muted = true;
    if (shards === 0) return;
    this.emit('open', `opened ${source}: ${shards} shard${shards === 1 ? '' : 's'}, ${(fileBytes / MB).toFixed(1)} MB of weights; base held as ${held} (${this.seconds.toFixed(2)} s)`, {
      model: source,
      shards,
      fileMB: round(fileBytes / MB),
      baseDtype: held,
    });
  }

  /** Reports reads counted by `meter` (throttled) until `done` or `dispose`. */
  watch(meter: TensorReadMeter): void {
    this.unsubscribe?.();
    this.meter = meter;
    this.unsubscribe = meter.onRead((_e, m) => {
      if (this.due()) this.read(m);
    });
  }

  private readFigures(m: TensorReadMeter): { text: string; fields: Record<string, number> } {
    const mb = m.bytes / MB;
    const rate = mb / Math.max(this.seconds, 1e-3);
    return { text: `${mb.toFixed(1)} MB of weights in ${m.reads} tensors (${rate.toFixed(1)} MB/s)`, fields: { mbRead: round(mb), tensors: m.reads, mbPerSecond: round(rate) } };
  }

  private read(m: TensorReadMeter): void {
    const r = this.readFigures(m);
    this.emit('read', `read ${r.text}`, r.fields);
  }

  /** One base layer quantized to 4 bits (with the read figures so far: quantizing is what reads the weights then). */
  quantized(e: QuantizedLayerEvent): void {
    if (e.index !== e.total && !this.due()) return;
    const r = this.meter ? this.readFigures(this.meter) : undefined;
    this.emit('quantize', `quantized layers ${e.index}/${e.total} (${e.layer})${r ? `; read ${r.text}` : ''}`, { layer: e.layer, index: e.index, total: e.total, ...r?.fields });
  }

  /** Loading is over (weights handed to the backend): a final read total. */
  loaded(meter: TensorReadMeter): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (meter.reads > 0) this.read(meter);
  }

  /** The first optimizer step finished. */
  firstStep(): void {
    this.emit('first-step', `first step after ${this.seconds.toFixed(1)} s`, {});
  }

  dispose(): void {
    this.unsubscribe?.();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
