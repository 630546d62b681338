import { toBf16, toF16 } from '../../test/half.js';
import { mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointNotFoundError,
  MissingShardError,
  SafetensorsFormatError,
  TensorNotFoundError,
  openCheckpoint,
  openSafetensors,
  readCheckpoint,
  readSafetensors,
  writeCheckpoint,
  writeSafetensors,
} from './index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lowrank-st-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Deterministic f32 values spanning many magnitudes, signs and a few special cases. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const mag = 2 ** ((s % 40) - 26);
    out[i] = ((s >>> 8) / 2 ** 24 - 0.5) * mag;
  }
  return out;
}


describe('safetensors round trip', () => {
  it('writes and reads f32, i32 and u8 bit-identically, with metadata and an 8-byte aligned header', async () => {
    const p = join(dir, 'rt.safetensors');
    const w = values(37, 1);
    const ids = Int32Array.from([0, -5, 2147483647, 42]);
    await writeSafetensors(
      p,
      new Map([
        ['b.weight', { shape: [37], dtype: 'f32' as const, data: w }],
        ['a.ids', { shape: [2, 2], dtype: 'i32' as const, data: ids }],
        ['c.mask', { shape: [3], dtype: 'u8' as const, data: Uint8Array.from([1, 0, 255]) }],
        ['d.empty', { shape: [0, 4], dtype: 'f32' as const, data: new Float32Array(0) }],
      ]),
      { metadata: { format: 'pt' } },
    );
    const f = await openSafetensors(p);
    try {
      expect(f.metadata).toEqual({ format: 'pt' });
      expect(f.header.headerBytes % 8).toBe(0);
      expect(f.names().sort()).toEqual(['a.ids', 'b.weight', 'c.mask', 'd.empty']);
      expect(f.entry('b.weight').dtype).toBe('F32');
      const b = await f.read('b.weight');
      expect(b.shape).toEqual([37]);
      expect(Array.from(b.data)).toEqual(Array.from(w));
      const a = await f.readHost('a.ids');
      expect(a.dtype).toBe('i32');
      expect(Array.from(a.data)).toEqual(Array.from(ids));
      expect(Array.from((await f.readHost('c.mask')).data)).toEqual([1, 0, 255]);
      expect((await f.read('d.empty')).shape).toEqual([0, 4]);
      await expect(f.read('nope')).rejects.toBeInstanceOf(TensorNotFoundError);
    } finally {
      await f.close();
    }
    // The header a reader sees is plain JSON naming dtype, shape and offsets.
    const bytes = await readFile(p);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    expect(header['b.weight']).toEqual({ dtype: 'F32', shape: [37], data_offsets: expect.any(Array) });
    expect(header.__metadata__).toEqual({ format: 'pt' });
  });

  it('readSafetensors reads only the names asked for', async () => {
    const p = join(dir, 'subset.safetensors');
    await writeSafetensors(p, { x: { shape: [2], dtype: 'f32', data: Float32Array.of(1, 2) }, y: { shape: [1], dtype: 'f32', data: Float32Array.of(3) } });
    const m = await readSafetensors(p, { names: ['y'] });
    expect([...m.keys()]).toEqual(['y']);
    expect(Array.from(m.get('y')!.data)).toEqual([3]);
  });

  it('stores f16 and bf16 with round-to-nearest-even and loads them back as f32', async () => {
    const src = values(4000, 7);
    // Ties, subnormals, overflow and the largest finite values.
    const special = Float32Array.of(1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 3 * 2 ** -26, 65504, 65519, 65520, -1e6, 2 ** -14, 1e-9, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3e38);
    const data = new Float32Array([...src, ...special]);
    for (const [storage, round] of [
      ['f16', toF16],
      ['bf16', toBf16],
    ] as const) {
      const p = join(dir, `${storage}.safetensors`);
      await writeSafetensors(p, { w: { shape: [data.length], dtype: 'f32', data } }, { dtype: storage });
      const f = await openSafetensors(p);
      expect(f.entry('w').dtype).toBe(storage === 'f16' ? 'F16' : 'BF16');
      await f.close();
      const got = (await readSafetensors(p)).get('w')!.data;
      let changed = 0;
      for (let i = 0; i < data.length; i++) {
        expect(got[i], `${storage} element ${i} (${data[i]})`).toBe(round(data[i]));
        if (got[i] !== data[i]) changed++;
      }
      expect(changed).toBeGreaterThan(data.length / 2);
    }
  });

  it('chooses the float storage per tensor', async () => {
    const p = join(dir, 'mixed.safetensors');
    const d = Float32Array.of(0.1, 0.2);
    await writeSafetensors(p, { keep: { shape: [2], dtype: 'f32', data: d }, half: { shape: [2], dtype: 'f32', data: d } }, { dtype: (n) => (n === 'half' ? 'f16' : 'f32') });
    const f = await openSafetensors(p);
    expect([f.entry('keep').dtype, f.entry('half').dtype]).toEqual(['F32', 'F16']);
    await f.close();
  });

  it('writes atomically: no temporary file is left and an existing file is replaced whole', async () => {
    const p = join(dir, 'atomic.safetensors');
    await writeSafetensors(p, { x: { shape: [1], dtype: 'f32', data: Float32Array.of(1) } });
    await writeSafetensors(p, { y: { shape: [2], dtype: 'f32', data: Float32Array.of(2, 3) } });
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
    const m = await readSafetensors(p);
    expect([...m.keys()]).toEqual(['y']);
  });
});

/** Builds a file from a raw header object and data bytes, bypassing the writer. */
async function rawFile(name: string, header: unknown, data: Uint8Array, lengthOverride?: bigint): Promise<string> {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const p = join(dir, name);
  await writeFile(p, Buffer.concat([prefix, json, data]));
  return p;
}

async function formatError(p: string): Promise<SafetensorsFormatError> {
  try {
    await openSafetensors(p);
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsFormatError);
    const err = e as SafetensorsFormatError;
    expect(err.file).toBe(p);
    expect(err.message).toContain(p);
    return err;
  }
  throw new Error(`opening ${p} did not fail`);
}

describe('safetensors validation', () => {
  it('refuses a file shorter than the length prefix', async () => {
    const p = join(dir, 'tiny.safetensors');
    await writeFile(p, Buffer.from([1, 2, 3]));
    expect((await formatError(p)).tensor).toBeNull();
  });

  it('refuses a header length above 100 MB before allocating it', async () => {
    const p = await rawFile('huge.safetensors', {}, new Uint8Array(0), 2n ** 40n);
    expect((await formatError(p)).message).toMatch(/exceeds/);
  });

  it('refuses a header length past the end of the file', async () => {
    const p = await rawFile('short.safetensors', { x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4), 5000n);
    expect((await formatError(p)).message).toMatch(/past the end/);
  });

  it('refuses malformed JSON and a non-object header', async () => {
    expect((await formatError(await rawFile('badjson.safetensors', '{"x": {', new Uint8Array(0)))).message).toMatch(/JSON/);
    expect((await formatError(await rawFile('array.safetensors', '[1,2]', new Uint8Array(0)))).message).toMatch(/not a JSON object/);
  });

  it('names the tensor whose offsets leave the file (a truncated file)', async () => {
    const p = join(dir, 'trunc.safetensors');
    await writeSafetensors(p, { a: { shape: [4], dtype: 'f32', data: new Float32Array(4) }, z: { shape: [4], dtype: 'f32', data: new Float32Array(4) } });
    const size = (await readFile(p)).length;
    await truncate(p, size - 3);
    const err = await formatError(p);
    expect(err.tensor).toBe('z');
    expect(err.message).toMatch(/run past/);
  });

  it('names the tensor whose dtype × shape disagrees with its byte length', async () => {
    const p = await rawFile('len.safetensors', { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8));
    const err = await formatError(p);
    expect(err.tensor).toBe('w');
    expect(err.message).toMatch(/needs 12 bytes/);
  });

  it('names overlapping tensors', async () => {
    const p = await rawFile(
      'overlap.safetensors',
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
      new Uint8Array(12),
    );
    const err = await formatError(p);
    expect(err.tensor).toBe('b');
    expect(err.message).toContain("'a'");
  });

  it('names a tensor with an unknown dtype or a bad shape', async () => {
    const e1 = await formatError(await rawFile('dtype.safetensors', { q: { dtype: 'F17', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)));
    expect(e1.tensor).toBe('q');
    const e2 = await formatError(await rawFile('shape.safetensors', { s: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)));
    expect(e2.tensor).toBe('s');
  });
});

describe('lazy reading', () => {
  it('reads one tensor by its byte range from a file whose other tensor is 1 GiB (never the whole file)', async () => {
    const big = 2 ** 28; // f32 elements: 1 GiB of data, left as a hole in a sparse file
    const header = { small: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, big: { dtype: 'F32', shape: [big], data_offsets: [8, 8 + big * 4] } };
    const p = await rawFile('sparse.safetensors', header, Buffer.from(Float32Array.of(1.5, -2).buffer));
    await truncate(p, 8 + JSON.stringify(header).length + 8 + big * 4);
    const f = await openSafetensors(p);
    try {
      const before = process.memoryUsage().rss;
      const t0 = performance.now();
      expect(Array.from((await f.read('small')).data)).toEqual([1.5, -2]);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
      expect(f.entry('big').shape).toEqual([big]);
    } finally {
      await f.close();
      await unlink(p);
    }
  });
});

describe('sharded checkpoints', () => {
  const tensors = new Map(
    Array.from({ length: 5 }, (_, i) => [`layer.${i}.weight`, { shape: [8, 4], dtype: 'f32' as const, data: values(32, 100 + i) }] as const),
  );

  it('splits by size, writes the index, and reads every tensor back from its shard', async () => {
    const d = await mkdtemp(join(dir, 'shards-'));
    const files = await writeCheckpoint(d, tensors, { maxShardBytes: 300 });
    expect(files).toContain('model.safetensors.index.json');
    expect(files.filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(1);
    const index = JSON.parse(await readFile(join(d, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(5 * 32 * 4);
    const back = await readCheckpoint(d);
    expect([...back.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [n, t] of tensors) expect(Array.from(back.get(n)!.data)).toEqual(Array.from(t.data));
    const ck = await openCheckpoint(d);
    expect(ck.files.length).toBe(files.length - 1);
    await ck.close();
  });

  it('writes a single model.safetensors when everything fits', async () => {
    const d = await mkdtemp(join(dir, 'single-'));
    expect(await writeCheckpoint(d, tensors)).toEqual(['model.safetensors']);
    expect((await readCheckpoint(d, { names: ['layer.3.weight'] })).size).toBe(1);
  });

  it('reports a missing shard with the index, the shard and its tensors', async () => {
    const d = await mkdtemp(join(dir, 'missing-'));
    const files = await writeCheckpoint(d, tensors, { maxShardBytes: 300 });
    const victim = files[1];
    await unlink(join(d, victim));
    const err = await openCheckpoint(d).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MissingShardError);
    expect((err as MissingShardError).shard).toBe(victim);
    expect((err as MissingShardError).tensors.length).toBeGreaterThan(0);
    expect((err as Error).message).toContain(victim);
  });

  it('reports a directory without weights', async () => {
    const d = await mkdtemp(join(dir, 'empty-'));
    await expect(openCheckpoint(d)).rejects.toBeInstanceOf(CheckpointNotFoundError);
  });
});
