/**
 * The adapted modules of a model, for `lowrank info`: the full list (JSON)
 * and a compact line that groups the layer indices of otherwise equal paths,
 * e.g. `model.layers.{0..27}.self_attn.q_proj`.
 */

/** `{0..3,7,9..10}`: runs of consecutive indices as ranges. */
export function formatIndices(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}..${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return sorted.length === 1 ? parts[0] : `{${parts.join(',')}}`;
}

/**
 * Paths grouped by their first numeric segment (the layer index): paths that
 * differ only there become one entry, in the order their first member appears.
 */
export function groupByLayer(paths: readonly string[]): string[] {
  const groups = new Map<string, number[]>();
  const plain: string[] = [];
  for (const path of paths) {
    const parts = path.split('.');
    const at = parts.findIndex((p) => /^\d+$/.test(p));
    if (at < 0) {
      groups.set(path, []);
      plain.push(path);
      continue;
    }
    const key = [...parts.slice(0, at), '\u0000', ...parts.slice(at + 1)].join('.');
    const list = groups.get(key) ?? [];
    list.push(Number(parts[at]));
    groups.set(key, list);
  }
  return [...groups].map(([key, indices]) => (indices.length === 0 ? key : key.replace('\u0000', formatIndices(indices))));
}

/** `adapted modules  28: model.layers.{0..3}.self_attn.q_proj, ...` */
export function adaptedModulesLine(paths: readonly string[]): string {
  const grouped = groupByLayer(paths);
  return `adapted modules  ${paths.length}: ${grouped.length ? grouped.join(', ') : '(none)'}`;
}
