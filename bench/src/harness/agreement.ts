import { relativeDifference } from './stats.js';

/** What one participant reported from its first training steps. */
export interface InitFacts {
  readonly name: string;
  readonly loss: number;
  readonly gradNorm: number;
  readonly lossAfterStep?: number;
}

export interface Tolerances {
  /** Loss on the same weights and batch, relative to the float64 reference. */
  readonly loss: number;
  /** Global L2 norm of the adapter gradients, relative to the float64 reference. */
  readonly gradNorm: number;
  /** Loss after one AdamW step, relative to the PyTorch peer's. */
  readonly lossAfterStep: number;
}

/** float32 tolerances: measured agreement here is ~1e-7 for the loss; these leave room for summation order. */
export const FLOAT32_TOLERANCES: Tolerances = { loss: 1e-4, gradNorm: 1e-3, lossAfterStep: 1e-3 };

export interface AgreementRow {
  readonly name: string;
  readonly lossRel: number;
  readonly gradNormRel: number;
  readonly lossAfterStepRel?: number;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

/**
 * Compares each participant with the float64 reference (loss and gradient
 * norm) and, for the loss after one optimizer step, with the peer that defines
 * the optimizer semantics (PyTorch's AdamW).
 */
export function checkAgreement(
  reference: { loss: number; gradNorm: number },
  optimizerPeer: { lossAfterStep?: number } | undefined,
  participants: readonly InitFacts[],
  tol: Tolerances = FLOAT32_TOLERANCES,
): AgreementRow[] {
  return participants.map((p) => {
    const problems: string[] = [];
    const lossRel = relativeDifference(p.loss, reference.loss);
    const gradNormRel = relativeDifference(p.gradNorm, reference.gradNorm);
    if (!Number.isFinite(p.loss) || !(lossRel <= tol.loss)) problems.push(`loss ${p.loss} vs reference ${reference.loss} (rel ${lossRel.toExponential(1)} > ${tol.loss})`);
    if (!Number.isFinite(p.gradNorm) || !(gradNormRel <= tol.gradNorm)) {
      problems.push(`grad norm ${p.gradNorm} vs reference ${reference.gradNorm} (rel ${gradNormRel.toExponential(1)} > ${tol.gradNorm})`);
    }
    let lossAfterStepRel: number | undefined;
    if (p.lossAfterStep !== undefined && optimizerPeer?.lossAfterStep !== undefined) {
      lossAfterStepRel = relativeDifference(p.lossAfterStep, optimizerPeer.lossAfterStep);
      if (!(lossAfterStepRel <= tol.lossAfterStep)) {
        problems.push(`loss after one AdamW step ${p.lossAfterStep} vs PyTorch ${optimizerPeer.lossAfterStep} (rel ${lossAfterStepRel.toExponential(1)} > ${tol.lossAfterStep})`);
      }
    }
    return { name: p.name, lossRel, gradNormRel, ...(lossAfterStepRel !== undefined ? { lossAfterStepRel } : {}), ok: problems.length === 0, problems };
  });
}
