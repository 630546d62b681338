import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMutations, fuzzDir, removeFuzzDirs, fuzzParams, fuzzTimeout, loadsOrTypedError, type Mutation } from '../reliability/fuzz-support.js';
import { SafetensorsFormatError } from './errors.js';
import { MAX_HEADER_BYTES } from './header.js';
import { openSafetensors } from './reader.js';
import { INDEX_FILE, openCheckpoint, writeCheckpoint } from './sharded.js';
import { writeSafetensors } from './writer.js';

afterAll(removeFuzzDirs);

const RUNS = 150;
const TIMEOUT = fuzzTimeout(RUNS, 30_000);

/** Opens the file and reads every tensor it declares, in every way a caller can. */
async function openAndReadAll(path: string): Promise<void> {
  const f = await openSafetensors(path);
  try {
    for (const name of f.names()) {
      await f.readBytes(name);
      await f.readHost(name).catch(async (e: unknown) => {
        // readHost may refuse an I64 value outside i32 with our error; read() then gets its own chance.
        if (!(e instanceof Error)) throw e;
        throw e;
      });
    }
  } finally {
    await f.close();
  }
}

function fileWithHeader(json: string, dataBytes: number, lengthOverride?: bigint): Uint8Array {
  const header = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + header.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(header.length), true);
  out.set(header, 8);
  for (let i = 8 + header.length; i < out.length; i++) out[i] = i * 37;
  return out;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(4096), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(4096) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(4096), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({
    kind: fc.constant('u64' as const),
    at: fc.oneof(fc.constant(0), fc.nat(4096)),
    value: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 1n, 100n * 2n ** 30n, 2n ** 63n, 2n ** 64n - 1n)),
  }),
);

const dims = fc.array(fc.oneof(fc.nat(6), fc.constantFrom(-1, 1.5, 2 ** 31, 2 ** 53, 1e300)), { maxLength: 4 });
const offset = fc.oneof(fc.nat(256), fc.constantFrom(-4, 0.5, 2 ** 32, 100 * 2 ** 30, Number.MAX_SAFE_INTEGER, 1e300));
const dtype = fc.oneof(fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'U64'), fc.string({ maxLength: 5 }));
const entry = fc.oneof(
  fc.record({ dtype, shape: dims, data_offsets: fc.tuple(offset, offset) }),
  fc.record({ dtype, shape: dims, data_offsets: fc.array(offset, { maxLength: 3 }) }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 2 }),
);
const headerObject = fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__metadata__', '__proto__', 'constructor')), entry, { maxKeys: 5 });

describe('safetensors fuzzing: every input loads or raises our typed error', () => {
  const dir = fuzzDir('st');
  let n = 0;
  const fresh = (bytes: Uint8Array) => {
    const p = join(dir, `case-${n++}.safetensors`);
    writeFileSync(p, bytes);
    return p;
  };

  it('arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        await loadsOrTypedError(() => openAndReadAll(fresh(bytes)));
      }),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);

  it('generated headers: hostile dtypes, shapes, offsets and sizes', async () => {
    await fc.assert(
      fc.asyncProperty(headerObject, fc.nat(300), async (header, dataBytes) => {
        const r = await loadsOrTypedError(() => openAndReadAll(fresh(fileWithHeader(JSON.stringify(header), dataBytes))));
        if (r.ok) {
          // Anything accepted must really fit: every declared tensor lies inside the file.
          const f = await openSafetensors(join(dir, `case-${n - 1}.safetensors`));
          for (const name of f.names()) expect(f.entry(name).dataOffsets[1]).toBeLessThanOrEqual(dataBytes);
          await f.close();
        }
      }),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);

  it('a valid file with random damage (bit flips, truncation, insertions, overwritten lengths)', async () => {
    const valid = join(dir, 'valid.safetensors');
    await writeSafetensors(valid, {
      'a.weight': { shape: [3, 4], dtype: 'f32', data: Float32Array.from({ length: 12 }, (_, i) => i / 7) },
      'b.ids': { shape: [5], dtype: 'i32', data: Int32Array.of(1, -2, 3, 4, 5) },
      'c.mask': { shape: [2, 2], dtype: 'bool', data: Uint8Array.of(1, 0, 0, 1) },
    }, { metadata: { format: 'pt' } });
    const bytes = new Uint8Array(readFileSync(valid));
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
        await loadsOrTypedError(() => openAndReadAll(fresh(applyMutations(bytes, mutations))));
      }),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);

  it('a header length or a tensor claiming 100 GB is rejected from the header alone (no allocation)', async () => {
    const huge = 100n * 2n ** 30n;
    const claimLength = fresh(fileWithHeader('{}', 0, huge));
    const err1 = await openSafetensors(claimLength).catch((e: unknown) => e);
    expect(err1).toBeInstanceOf(SafetensorsFormatError);
    expect(String(err1)).toMatch(new RegExp(`exceeds the ${MAX_HEADER_BYTES}-byte limit`));

    const header = JSON.stringify({ t: { dtype: 'F32', shape: [25, 2 ** 30], data_offsets: [0, 100 * 2 ** 30] } });
    const before = process.memoryUsage().arrayBuffers;
    const err2 = await openSafetensors(fresh(fileWithHeader(header, 64))).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(SafetensorsFormatError);
    expect(String(err2)).toMatch(/run past the 64-byte data section/);
    // Nothing near the claimed size was allocated on the way to the error.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });
});

describe('sharded index fuzzing', () => {
  const dir = fuzzDir('index');
  let n = 0;

  it('random index.json content next to real shards loads or raises our typed error', async () => {
    const base = join(dir, 'base');
    mkdirSync(base);
    const tensors = new Map([
      ['x', { shape: [64], dtype: 'f32' as const, data: new Float32Array(64).fill(1) }],
      ['y', { shape: [64], dtype: 'f32' as const, data: new Float32Array(64).fill(2) }],
    ]);
    const files = await writeCheckpoint(base, tensors, { maxShardBytes: 300 });
    expect(files).toContain(INDEX_FILE);
    const shards = files.filter((f) => f !== INDEX_FILE);
    const shardName = fc.oneof(fc.constantFrom(...shards, '../model.safetensors', '/etc/passwd', '', 'missing.safetensors', INDEX_FILE), fc.string({ maxLength: 8 }));
    const index = fc.oneof(
      fc.record({ weight_map: fc.dictionary(fc.constantFrom('x', 'y', 'z', '__proto__'), shardName) }),
      fc.record({ metadata: fc.jsonValue({ maxDepth: 2 }), weight_map: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(index.map((v) => JSON.stringify(v)), fc.string({ maxLength: 40 })), async (text) => {
        const d = join(dir, `c${n++}`);
        mkdirSync(d);
        for (const s of shards) writeFileSync(join(d, s), readFileSync(join(base, s)));
        writeFileSync(join(d, INDEX_FILE), text);
        const r = await loadsOrTypedError(async () => {
          const ck = await openCheckpoint(d);
          try {
            for (const name of ck.names()) await ck.read(name);
            return ck.names();
          } finally {
            await ck.close();
          }
        });
        if (r.ok) for (const name of r.value) expect(['x', 'y']).toContain(name);
      }),
      fuzzParams(RUNS),
    );
  }, TIMEOUT);
});
