// The trained adapter as PEFT's two files, made in memory for the page's download links (the models
// package writes the same files to disk in Node: same keys, same config fields, metadata {"format": "pt"}).
import type { HostTensor } from '@lowrank/core';
import { encodeTensor, parseAdapterParam, peftConfigFor, toPeftKey, type LoraFields } from '@lowrank/models';

/** A safetensors file: 8-byte little-endian header length, the JSON header padded with spaces to 8 bytes, then the data. */
export function safetensorsBytes(tensors: ReadonlyMap<string, HostTensor>, metadata: Readonly<Record<string, string>>): Uint8Array<ArrayBuffer> {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: { ...metadata } };
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = encodeTensor(t.data, 'F32');
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** adapter_model.safetensors and adapter_config.json of the default adapter among `trained`. */
export function peftAdapterFiles(trained: Readonly<Record<string, HostTensor>>, config: LoraFields, baseModel: string): { weights: Uint8Array<ArrayBuffer>; config: string } {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of Object.entries(trained)) {
    const p = parseAdapterParam(name);
    if (p && p.adapter === 'default') out.set(toPeftKey(p), t);
  }
  return {
    weights: safetensorsBytes(out, { format: 'pt' }),
    config: `${JSON.stringify(peftConfigFor(config, { base_model_name_or_path: baseModel }), null, 2)}\n`,
  };
}
