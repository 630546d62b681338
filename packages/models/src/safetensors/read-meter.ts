/** One tensor's bytes read from a checkpoint file. */
export interface TensorReadEvent {
  readonly file: string;
  readonly tensor: string;
  readonly bytes: number;
}

/**
 * Counts tensor bytes read from disk. A loader hands one to its lazy tensors
 * so a command can report progress (MB, MB/s) for the parts that do read
 * bytes (quantization, an upload that cannot map the file, an f32 conversion).
 */
export class TensorReadMeter {
  reads = 0;
  bytes = 0;
  private readonly listeners: ((e: TensorReadEvent, meter: TensorReadMeter) => void)[] = [];

  onRead(listener: (e: TensorReadEvent, meter: TensorReadMeter) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  record(e: TensorReadEvent): void {
    this.reads++;
    this.bytes += e.bytes;
    for (const l of this.listeners) l(e, this);
  }
}

/**
 * Every tensor read of this process (lazy reads and eager ones alike): tests
 * use it to check that a command that fails on its options or data, or one
 * that only inspects headers, read no tensor bytes.
 */
export const processTensorReads = new TensorReadMeter();
