import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BenchError } from '../errors.js';

/** A request from the harness; handlers read the fields they need. */
export type Request = { cmd: string } & Record<string, unknown>;
export type Handler = (req: Request) => Promise<Record<string, unknown>> | Record<string, unknown>;

/**
 * The worker side of the harness protocol for Node participants: one JSON
 * request per stdin line, one JSON reply per stdout line. Everything else a
 * library prints is sent to stderr so it cannot corrupt the channel.
 */
export function serve(handlers: Record<string, Handler>): void {
  const write = (obj: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(obj)}\n`);
  console.log = console.error;
  console.info = console.error;
  console.warn = console.error;
  const lines = createInterface({ input: process.stdin });
  let queue = Promise.resolve();
  lines.on('line', (line) => {
    queue = queue.then(async () => {
      const req = JSON.parse(line) as Request;
      if (req.cmd === 'exit') {
        write({ ok: true });
        process.exit(0);
      }
      if (req.cmd === 'memory') {
        write({ ok: true, ...memoryReport() });
        return;
      }
      const handler = handlers[req.cmd];
      try {
        if (!handler) throw new BenchError(`unknown command '${req.cmd}'; this worker knows ${Object.keys(handlers).join(', ')}`);
        write({ ok: true, ...(await handler(req)) });
      } catch (e) {
        write({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
      }
    });
  });
}

/** Peak resident memory of this process over its life, and since the last reset. */
export function memoryReport(): { maxRssBytes: number; stepPeakRssBytes: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  return {
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    stepPeakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0,
  };
}

/** Linux: writing 5 to clear_refs resets VmHWM, so later peaks exclude setup. */
export function resetPeakRss(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch (e) {
    process.stderr.write(`cannot reset peak RSS: ${String(e)}\n`);
  }
}

export function timeSteps(steps: number, step: () => Promise<number>): Promise<{ times: number[]; losses: number[] }> {
  return (async () => {
    const times: number[] = [];
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      losses.push(await step());
      times.push(performance.now() - t);
    }
    return { times, losses };
  })();
}
