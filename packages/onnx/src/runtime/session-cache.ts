import type { InferenceSession } from 'onnxruntime-node';

interface Entry {
  readonly session: Promise<InferenceSession>;
  refs: number;
  lastUsed: number;
  readonly cleanup: () => void;
}

/**
 * Sessions keyed by graph hash + shapes (+ frozen weights and options).
 * Executables hold references; sessions nobody holds stay warm up to
 * `maxIdle`, then the least recently used one is released.
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private tick = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxIdle = 4) {}

  /** Returns the cached session for `key` or creates it; the caller must `release(key)` once. */
  acquire(key: string, create: () => Promise<{ session: InferenceSession; cleanup: () => void }>): Promise<InferenceSession> {
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      hit.refs++;
      hit.lastUsed = this.tick++;
      return hit.session;
    }
    this.misses++;
    let cleanup = () => {};
    const session = create().then((r) => {
      cleanup = r.cleanup;
      return r.session;
    });
    const entry: Entry = { session, refs: 1, lastUsed: this.tick++, cleanup: () => cleanup() };
    this.entries.set(key, entry);
    // A failed creation must not poison the cache.
    session.catch(() => this.entries.delete(key));
    return session;
  }

  release(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.refs = Math.max(0, e.refs - 1);
    this.evict();
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    const idle = [...this.entries.entries()].filter(([, e]) => e.refs === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    while (idle.length > this.maxIdle) {
      const [key, e] = idle.shift()!;
      this.drop(key, e);
    }
  }

  private drop(key: string, e: Entry): void {
    this.entries.delete(key);
    e.session.then((s) => s.release()).then(e.cleanup, e.cleanup);
  }

  /** Releases every session (backend disposal). */
  clear(): void {
    for (const [key, e] of [...this.entries.entries()]) this.drop(key, e);
  }
}
