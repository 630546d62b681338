/** WGSL helpers for one-workgroup-per-row kernels: a tree reduction over the lanes of a workgroup. */
export const ROW_LANES = 64;

export const ROW_REDUCE = `
  // tfjs folds dispatches past 65535 workgroups into y and z; the row is the flat workgroup index.
  fn rowIndex() -> i32 {
    return i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x + workgroupId.x);
  }
  var<workgroup> lanes : array<f32, ${ROW_LANES}>;
  fn laneReduce(value : f32, isMax : bool) -> f32 {
    let lane = i32(localId.x);
    workgroupBarrier();
    lanes[lane] = value;
    workgroupBarrier();
    for (var width = ${ROW_LANES / 2}; width > 0; width = width / 2) {
      if (lane < width) {
        let other = lanes[lane + width];
        lanes[lane] = select(lanes[lane] + other, max(lanes[lane], other), isMax);
      }
      workgroupBarrier();
    }
    let total = lanes[0];
    workgroupBarrier();
    return total;
  }
`;
