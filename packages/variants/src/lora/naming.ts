/** The name every adapter gets unless told otherwise, as in PEFT. */
export const DEFAULT_ADAPTER = 'default';

export type AdapterTensor = 'lora_A' | 'lora_B' | 'lora_magnitude_vector';

/**
 * Local name of an adapter tensor inside the layer it wraps. The default
 * adapter uses PEFT's saved key names (`lora_A.weight`, `lora_B.weight`,
 * `lora_magnitude_vector`); any other adapter inserts its name as PEFT's
 * in-memory modules do (`lora_A.<name>.weight`, `lora_magnitude_vector.<name>`),
 * so several adapters can live in one graph.
 */
export function adapterLocalName(kind: AdapterTensor, adapter: string): string {
  const named = adapter !== DEFAULT_ADAPTER;
  if (kind === 'lora_magnitude_vector') return named ? `${kind}.${adapter}` : kind;
  return named ? `${kind}.${adapter}.weight` : `${kind}.weight`;
}

/** Full parameter name of an adapter tensor of the layer at `layerPath`. */
export function adapterParamName(layerPath: string, kind: AdapterTensor, adapter: string): string {
  const local = adapterLocalName(kind, adapter);
  return layerPath ? `${layerPath}.${local}` : local;
}
