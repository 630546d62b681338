export { applyRankDropout, rankDropout } from './rank-dropout.js';
export {
  attachImportanceProbes,
  clearImportanceProbes,
  measureLayerImportance,
  importanceOutput,
  selectLayers,
  shareDroppedLayers,
  initialSharedState,
  sharedParamName,
  loraDropParameters,
  expandSharedAdapter,
  type ImportanceMeasurement,
  type LayerSelection,
  type ParameterReport,
} from './layer-selection.js';
