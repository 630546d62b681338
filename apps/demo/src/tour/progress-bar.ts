export interface BarOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** A one-line progress bar per run: redrawn on a terminal, printed at each quarter otherwise. */
export class ProgressBar {
  private lastQuarter = -1;

  constructor(
    private readonly out: BarOutput,
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(step: number, loss: number): void {
    const frac = Math.min(1, step / this.total);
    const width = 30;
    const filled = Math.round(frac * width);
    const text = `${this.label.padEnd(34)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${step}/${this.total} loss ${loss.toFixed(3)}`;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${text}`);
      if (step >= this.total) this.out.write('\n');
      return;
    }
    const quarter = Math.floor(frac * 4);
    if (quarter > this.lastQuarter) {
      this.lastQuarter = quarter;
      this.out.write(`${text}\n`);
    }
  }
}
