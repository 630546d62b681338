import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostData } from '@lowrank/core';
import type { FileRange } from '../model/onnx-types.js';

/**
 * A backend's scratch file for frozen values that arrive without a file of
 * their own (a weight converted while it was read: bf16 upcast to f32, say).
 * Each is appended once and handed to ORT as external data, so JavaScript
 * drops its copy at once and the session holds the only one. Removed with the
 * backend.
 */
export class SpillArea {
  private dir: string | undefined;
  private fd: number | undefined;
  private offset = 0;

  /** Appends the bytes of `data` (64-byte aligned) and returns where they are. */
  append(data: HostData): FileRange {
    if (this.fd === undefined) {
      this.dir = mkdtempSync(join(tmpdir(), 'lowrank-weights-'));
      this.fd = openSync(join(this.dir, 'frozen.bin'), 'w');
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const offset = Math.ceil(this.offset / 64) * 64;
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
    this.offset = offset + bytes.length;
    return { path: join(this.dir!, 'frozen.bin'), offset, byteLength: bytes.length };
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.offset;
  }

  dispose(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.fd = undefined;
    this.dir = undefined;
    this.offset = 0;
  }
}
