import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BenchError } from '../errors.js';

/** A reply from a participant: always `ok`, plus command-specific fields. */
export type WorkerReply = { ok: true } & Record<string, unknown>;

/**
 * One participant of the race in its own child process, driven by JSON lines
 * (one request, one reply). Separate processes give each implementation its
 * own peak RSS and keep the runtimes (Python, WASM, ORT threads) from sharing a heap.
 * Only one worker computes at a time: the harness awaits each reply before the next request.
 */
export class Worker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: Array<{ resolve: (r: WorkerReply) => void; reject: (e: Error) => void }> = [];
  private stderrTail: string[] = [];
  private exited: string | undefined;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    env: Readonly<Record<string, string>> = {},
  ) {
    this.child = spawn(command, [...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const lines = createInterface({ input: this.child.stdout });
    lines.on('line', (line) => this.onLine(line));
    this.child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${text}`);
      this.stderrTail = [...this.stderrTail, ...text.split('\n')].slice(-20);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `exited with ${signal ?? code}`;
      const err = new BenchError(`${this.name} ${this.exited}. Last stderr lines:\n${this.stderrTail.join('\n')}`);
      for (const p of this.pending.splice(0)) p.reject(err);
    });
    this.child.on('error', (e) => {
      this.exited = `failed to start (${e.message})`;
      for (const p of this.pending.splice(0)) p.reject(new BenchError(`${this.name} ${this.exited}`));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  request(msg: Record<string, unknown>): Promise<WorkerReply> {
    if (this.exited) return Promise.reject(new BenchError(`${this.name} ${this.exited}; cannot send '${String(msg.cmd)}'`));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    await this.request({ cmd: 'exit' }).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    const p = this.pending.shift();
    if (!p) return;
    let reply: Record<string, unknown>;
    try {
      reply = JSON.parse(line) as Record<string, unknown>;
    } catch {
      p.reject(new BenchError(`${this.name} wrote a line that is not JSON on its protocol channel: ${line.slice(0, 200)}`));
      return;
    }
    if (reply.ok === true) p.resolve(reply as WorkerReply);
    else p.reject(new BenchError(`${this.name} failed: ${String(reply.error)}\n${this.stderrTail.join('\n')}`));
  }
}
