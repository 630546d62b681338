export * from './errors.js';
export {
  type SafetensorsDtype,
  DTYPE_BYTES,
  f16BitsToFloat,
  floatToF16Bits,
  bf16BitsToFloat,
  floatToBf16Bits,
} from './dtypes.js';
export { MAX_HEADER_BYTES, type SafetensorsHeader, type TensorEntry } from './header.js';
export type { F32Tensor, LoadedTensor } from './decode.js';
export { openSafetensors, readSafetensors, type SafetensorsFile, type ReadOptions } from './reader.js';
export { writeSafetensors, encodeTensor, SafetensorsWriteError, NonFiniteTensorError, firstNonFinite, type WritableTensor, type WriteOptions, type FloatStorage } from './writer.js';
export { writeFileAtomic, writeBytesAtomic } from './atomic.js';
export {
  openCheckpoint,
  readCheckpoint,
  writeCheckpoint,
  SINGLE_FILE,
  INDEX_FILE,
  type Checkpoint,
  type CheckpointWriteOptions,
} from './sharded.js';
export { lazyTensor, readTensorBytes, CheckpointChangedError, type TensorLocation } from './lazy.js';
export { TensorReadMeter, processTensorReads, type TensorReadEvent } from './read-meter.js';
export { convertStored, f32ToBf16, f32ToF16, isStorageDtype, STORAGE_DTYPES, SAFETENSORS_OF_STORAGE, type StorageDtype } from './convert.js';
