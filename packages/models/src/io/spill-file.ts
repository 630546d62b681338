import { open, rm, mkdtemp, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostData, HostTensor, LazyHostTensor } from '@lowrank/core';
import { processTensorReads } from '../safetensors/read-meter.js';

/** Bytes of host data, little-endian as stored (this runs on little-endian hosts only, as Node's typed arrays do here). */
function bytesOf(data: HostData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A scratch file that derived tensors (a QLoRA base packed to 4 bits) are
 * appended to as they are made, each handed back as a lazy tensor whose
 * `file` range is its bytes: the producer drops its copy at once and the
 * backend that maps files holds the only one. Removed by `dispose()`.
 */
export class SpillFile {
  private offset = 0;
  private constructor(
    readonly dir: string,
    readonly path: string,
    private fh: FileHandle | null,
  ) {}

  static async create(prefix = 'lowrank-spill-', parent = tmpdir()): Promise<SpillFile> {
    const dir = await mkdtemp(join(parent, prefix));
    const path = join(dir, 'tensors.bin');
    return new SpillFile(dir, path, await open(path, 'w+'));
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.offset;
  }

  async append(t: HostTensor): Promise<LazyHostTensor> {
    if (!this.fh) throw new Error(`spill file ${this.path} was disposed`);
    if (t.data instanceof Float64Array) throw new TypeError('spill files hold storage dtypes; convert float64 data to f32 first');
    const bytes = bytesOf(t.data);
    // 64-byte alignment: a mapped range may be used in place by a runtime that wants aligned data.
    const offset = Math.ceil(this.offset / 64) * 64;
    let done = 0;
    while (done < bytes.length) done += (await this.fh.write(bytes, done, bytes.length - done, offset + done)).bytesWritten;
    this.offset = offset + bytes.length;
    const path = this.path;
    const { shape, dtype } = t;
    const byteLength = bytes.length;
    const ctor = t.data.constructor as new (b: ArrayBuffer) => HostData;
    return {
      shape: [...shape],
      dtype,
      file: { path, offset, byteLength },
      async read() {
        const buf = new Uint8Array(byteLength);
        const fh = await open(path, 'r');
        try {
          let got = 0;
          while (got < byteLength) {
            const { bytesRead } = await fh.read(buf, got, byteLength - got, offset + got);
            if (bytesRead === 0) throw new Error(`spill file ${path} ended early (removed while in use?)`);
            got += bytesRead;
          }
        } finally {
          await fh.close();
        }
        processTensorReads.record({ file: path, tensor: '(spilled)', bytes: byteLength });
        return new ctor(buf.buffer);
      },
    };
  }

  /** Flushes what was written (before a backend maps the file). */
  async sync(): Promise<void> {
    await this.fh?.sync();
  }

  async dispose(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
