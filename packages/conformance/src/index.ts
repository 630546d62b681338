export { describeConformance, allOpCases, opsWithoutCases, type ConformanceOptions } from './describe.js';
export { type OpCase, type InputSpec, f32, i32, u8, bool, values } from './case.js';
export { primitiveCases } from './cases-primitive.js';
export { compositeCases } from './cases-composite.js';
export { buildCase, checkOpCase, runOnBackend, toHostTensor, type BuiltCase } from './run-case.js';
export { compareOutput, normRelativeError, formatComparisons, type Comparison } from './compare.js';
export {
  toleranceFor,
  FLOAT32_TOLERANCES,
  FLOAT64_TOLERANCE,
  DEFAULT_FLOAT32_TOLERANCE,
  TRAINING_STEP_RTOL,
  type Tolerance,
} from './tolerances.js';
export { buildLoraTrainingStep, type TrainingStepModel, type TrainingStepOptions } from './training-step.js';
export { seededRandom, drawValues, type ValueKind } from './random.js';
export { createFloat32SimulatedBackend, type Kernel } from './float32-backend.js';
export { describeNonFiniteSteps } from './nonfinite-steps.js';
