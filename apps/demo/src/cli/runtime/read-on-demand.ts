import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isLazyHostTensor, LowrankError, type HostTensor, type ParameterValue } from '@lowrank/core';
import { CheckpointChangedError, convertStored, processTensorReads, UnsupportedTensorDtypeError, type TensorLocation, type TensorReadMeter } from '@lowrank/models';

/** One tensor's bytes, read synchronously (a weight an initializer asks for by name). */
function readLocationSync(loc: TensorLocation, meter?: TensorReadMeter): Uint8Array {
  const [begin, end] = loc.entry.dataOffsets;
  const bytes = new Uint8Array(end - begin);
  const fd = openSync(loc.path, 'r');
  try {
    const info = fstatSync(fd);
    if (info.size !== loc.fileSize || info.mtimeMs !== loc.mtimeMs) throw new CheckpointChangedError(loc.path, loc.tensor, 'the file changed');
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(fd, bytes, done, Math.min(1 << 30, bytes.length - done), loc.dataStart + begin + done);
      if (n === 0) throw new CheckpointChangedError(loc.path, loc.tensor, `the file ended after ${loc.dataStart + begin + done} bytes`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  const event = { file: loc.path, tensor: loc.tensor, bytes: bytes.length };
  processTensorReads.record(event);
  meter?.record(event);
  return bytes;
}

/**
 * The weights as a Map whose lazy entries are read when asked for, one at a
 * time, and not kept: variants' initializers (DoRA's magnitude = row norms of
 * W, PiSSA's SVD) look weights up synchronously by name, so each adapted
 * weight is read once, used and dropped instead of the whole base being
 * materialized first.
 */
export class ReadOnDemandWeights extends Map<string, HostTensor> {
  constructor(
    private readonly source: ReadonlyMap<string, ParameterValue>,
    private readonly locations: ReadonlyMap<string, TensorLocation>,
    private readonly meter?: TensorReadMeter,
  ) {
    super();
  }

  override has(name: string): boolean {
    return this.source.has(name);
  }

  override get(name: string): HostTensor | undefined {
    const v = this.source.get(name);
    if (!v || !isLazyHostTensor(v)) return v;
    const loc = this.locations.get(name);
    if (!loc) throw new LowrankError(`internal: lazy weight '${name}' has no file location to read it from`);
    const numel = v.shape.reduce((p, d) => p * d, 1);
    const data = convertStored(readLocationSync(loc, this.meter), loc.entry.dtype, v.dtype, numel);
    if (!data) throw new UnsupportedTensorDtypeError(loc.path, loc.tensor, loc.entry.dtype, v.dtype);
    return { shape: v.shape, dtype: v.dtype, data };
  }
}
