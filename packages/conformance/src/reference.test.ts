// The suite on the reference backend itself: in float64 it must agree with
// the evaluator to 1e-12; with results rounded to float32, within the float32 table.
import { createReferenceBackend } from '@lowrank/core';
import { describeConformance } from './describe.js';

describeConformance('reference (float64 results)', async () => createReferenceBackend());
describeConformance('reference (float32 results)', async () => createReferenceBackend({ float64Results: false }));
