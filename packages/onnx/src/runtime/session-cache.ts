import type { InferenceSession } from 'onnxruntime-node';

interface Entry {
  readonly session: Promise<InferenceSession>;
  /** Initializer bytes the session holds (its weights). */
  readonly bytes: number;
  refs: number;
  lastUsed: number;
  /** Runs in progress: a session is never released under a running call. */
  running: number;
  /** Evicted while running: released when the last run ends. */
  evicted: boolean;
  readonly holders: Set<() => void>;
  readonly cleanup: () => void;
}

/** Default weight budget of the sessions alive at once (see `SessionCache`). */
export const DEFAULT_MAX_LIVE_BYTES = 1 << 30;

/**
 * Sessions keyed by graph hash + shapes (+ frozen weights and options).
 * Executables hold references; sessions nobody holds stay warm up to
 * `maxIdle`, then the least recently used one is released.
 *
 * ORT cannot share initializers between sessions from Node, so a training
 * graph and its evaluation graph would each hold a copy of a large model's
 * weights. `maxLiveBytes` bounds the initializer bytes of all live sessions:
 * creating a session past it first releases the least recently used others
 * (held or not; their executables recreate them on their next run). Small
 * models never reach it; a billion-parameter one keeps one weight copy.
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private tick = 0;
  hits = 0;
  misses = 0;
  /** Sessions released to stay within `maxLiveBytes`. */
  budgetEvictions = 0;

  constructor(
    private readonly maxIdle = 4,
    private readonly maxLiveBytes = DEFAULT_MAX_LIVE_BYTES,
  ) {}

  /**
   * Returns the cached session for `key` or creates it; the caller must
   * `release(key)` once. `onEvict` is called if the cache releases the session
   * while the caller still holds it (the caller then acquires it again).
   */
  acquire(key: string, bytes: number, create: () => Promise<{ session: InferenceSession; cleanup: () => void }>, onEvict: () => void = () => {}): Promise<InferenceSession> {
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      hit.refs++;
      hit.lastUsed = this.tick++;
      hit.holders.add(onEvict);
      return hit.session;
    }
    this.misses++;
    this.makeRoom(bytes);
    let cleanup = () => {};
    const session = create().then((r) => {
      cleanup = r.cleanup;
      return r.session;
    });
    const entry: Entry = { session, bytes, refs: 1, lastUsed: this.tick++, running: 0, evicted: false, holders: new Set([onEvict]), cleanup: () => cleanup() };
    this.entries.set(key, entry);
    // A failed creation must not poison the cache.
    session.catch(() => this.entries.delete(key));
    return session;
  }

  /** Brackets a run on the session of `key` (see Entry.running). */
  runStarted(key: string): void {
    const e = this.entries.get(key);
    if (e) e.running++;
  }

  runEnded(key: string, session: Promise<InferenceSession>): void {
    for (const e of [this.entries.get(key), ...this.retired]) {
      if (!e || e.session !== session) continue;
      e.running = Math.max(0, e.running - 1);
      if (e.evicted && e.running === 0) this.finish(e);
    }
  }

  private readonly retired = new Set<Entry>();

  release(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.refs = Math.max(0, e.refs - 1);
    this.evict();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Initializer bytes of the live sessions. */
  get liveBytes(): number {
    let b = 0;
    for (const e of this.entries.values()) b += e.bytes;
    return b;
  }

  private makeRoom(bytes: number): void {
    if (this.liveBytes + bytes <= this.maxLiveBytes) return;
    const byAge = [...this.entries.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [key, e] of byAge) {
      if (this.liveBytes + bytes <= this.maxLiveBytes) break;
      this.budgetEvictions++;
      for (const h of e.holders) h();
      this.drop(key, e);
    }
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
    if (e.running > 0) {
      e.evicted = true;
      this.retired.add(e);
      return;
    }
    this.finish(e);
  }

  private finish(e: Entry): void {
    this.retired.delete(e);
    // With LOWRANK_ORT_PROFILE set, ORT writes its profile only when asked to.
    e.session.then((s) => (process.env.LOWRANK_ORT_PROFILE ? s.endProfiling() : undefined, s.release())).then(e.cleanup, e.cleanup);
  }

  /** Releases every session (backend disposal). */
  clear(): void {
    for (const [key, e] of [...this.entries.entries()]) this.drop(key, e);
  }
}
