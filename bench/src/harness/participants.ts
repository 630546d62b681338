import { fileURLToPath } from 'node:url';

/** Which method a participant trains; the reference it is checked against follows from it. */
export type Method = 'lora' | 'dora' | 'qlora';

export interface ParticipantSpec {
  readonly name: string;
  /** Implementation family, for the table: the peer or lowrank backend. */
  readonly implementation: 'pytorch' | 'tfjs-wasm' | 'tfjs-cpu' | 'lowrank-cpu';
  readonly method: Method;
  readonly policy: string;
  /** How the lowrank graph is built: the bench's own core-ops graph, or the user's path through @lowrank/models + @lowrank/variants. */
  readonly api: 'core-graph' | 'packages';
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Extra fields of the init request. */
  readonly init: Readonly<Record<string, unknown>>;
  /** Training steps run inside init (the first one is the agreement check). */
  readonly initSteps: number;
  /** Timed steps per interleaved round; 0: the first step in init is the only sample (peers too slow for more). */
  readonly stepsPerRound: number;
}

export const METHOD_LABEL: Readonly<Record<Method, string>> = { lora: 'LoRA', dora: 'DoRA', qlora: 'QLoRA' };

const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const nodeWorker = (script: string) => ['--conditions=source', '--expose-gc', '--import', 'tsx', here(script)];

/** PyTorch runs with OpenBLAS on 2 threads (ENVIRONMENT.md): set here, for the bench only. */
export const TORCH_ENV = { OPENBLAS_CORETYPE: 'SKYLAKEX', OPENBLAS_NUM_THREADS: '2', OMP_NUM_THREADS: '2' };
export const PYTHON = '/usr/bin/python3';
export const TORCH_PEER = here('../../peers/torch_lora.py');
export const LOWRANK_WORKER = nodeWorker('../lowrank/lowrank-worker.ts');

export interface PlanOptions {
  readonly quick: boolean;
  /** Run tfjs-backend-cpu (about 0.7 GFLOP/s here: minutes per step). Default: full mode only. */
  readonly tfjsCpu: boolean;
  /** Checkpoint policies to race besides `none`. */
  readonly policies: readonly string[];
}

export function planParticipants(o: PlanOptions): ParticipantSpec[] {
  const lowrank = (method: Method, policy: string): ParticipantSpec => ({
    name: `lowrank cpu ${METHOD_LABEL[method]}${policy === 'none' ? '' : ` [${policy}]`}`,
    implementation: 'lowrank-cpu',
    method,
    policy,
    api: 'core-graph',
    command: process.execPath,
    args: LOWRANK_WORKER,
    env: { LOWRANK_THREADS: '2' },
    init: { variant: method, policy, doubleQuant: true },
    // The plain LoRA step also checks its AdamW update against PyTorch's; quick mode spares the others that step.
    initSteps: o.quick && (method !== 'lora' || policy !== 'none') ? 1 : 2,
    stepsPerRound: o.quick ? 1 : 2,
  });
  const out: ParticipantSpec[] = [
    {
      name: 'PyTorch 1.13 (OpenBLAS, 2 threads)',
      implementation: 'pytorch',
      method: 'lora',
      policy: 'none',
      api: 'core-graph',
      command: PYTHON,
      args: [TORCH_PEER],
      env: TORCH_ENV,
      init: {},
      initSteps: 2,
      stepsPerRound: o.quick ? 1 : 2,
    },
    lowrank('lora', 'none'),
    // The user's path builds the same graph (a unit test checks it); quick mode saves its session build.
    ...(o.quick
      ? []
      : [
          {
            ...lowrank('lora', 'none'),
            name: 'lowrank cpu LoRA (models + variants API)',
            api: 'packages' as const,
            init: { variant: 'lora', policy: 'none', build: 'packages' },
          },
        ]),
    lowrank('dora', 'none'),
    lowrank('qlora', 'none'),
    ...o.policies.map((p) => lowrank('lora', p)),
    {
      name: 'tfjs-backend-wasm 4.22 (SIMD, 1 thread)',
      implementation: 'tfjs-wasm',
      method: 'lora',
      policy: 'none',
      api: 'core-graph',
      command: process.execPath,
      args: [...nodeWorker('../peers/tfjs-worker.ts'), 'wasm'],
      env: {},
      init: {},
      initSteps: o.quick ? 1 : 2,
      stepsPerRound: o.quick ? 0 : 1,
    },
  ];
  if (o.tfjsCpu) {
    out.push({
      name: 'tfjs-backend-cpu 4.22',
      implementation: 'tfjs-cpu',
      method: 'lora',
      policy: 'none',
      api: 'core-graph',
      command: process.execPath,
      args: [...nodeWorker('../peers/tfjs-worker.ts'), 'cpu'],
      env: {},
      init: {},
      initSteps: 1,
      stepsPerRound: 0,
    });
  }
  return out;
}

/** MatMul shapes of the bench model's linears (tokens × in × out), for the ceiling. */
export function ceilingShapes(tokens: number, hidden: number, intermediate: number, vocab: number): Array<[number, number, number]> {
  return [
    [tokens, hidden, hidden],
    [tokens, hidden, intermediate],
    [tokens, intermediate, hidden],
    [tokens, hidden, vocab],
  ];
}
