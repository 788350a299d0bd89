import { StreamsError } from './errors.js';

/** Which launcher the rank layout came from. */
export type Launcher = 'explicit' | 'torchrun' | 'slurm' | 'openmpi' | 'kubernetes' | 'single';

/** The rank layout of this process: global rank, local rank on its node, and the node. */
export interface World {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  nodeRank: number;
  numNodes: number;
  launcher: Launcher;
}

export interface WorldOptions {
  /** Environment to read (defaults to `process.env`). */
  env?: Record<string, string | undefined>;
  /** Explicit values override the environment. */
  rank?: number;
  worldSize?: number;
  localRank?: number;
  localWorldSize?: number;
  /**
   * Size of a Kubernetes indexed Job (its `completions`), when `JOB_COMPLETION_INDEX` is the only
   * variable set. Also read from `STREAMS_WORLD_SIZE`.
   */
  kubernetesWorldSize?: number;
}

interface RawLayout {
  launcher: Launcher;
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  nodeRank?: number;
  numNodes?: number;
}

const LAUNCHERS: ReadonlyArray<{
  launcher: Launcher;
  vars: readonly [rank: string, size: string, localRank: string, localSize: string];
}> = [
  { launcher: 'torchrun', vars: ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE'] },
  {
    launcher: 'slurm',
    vars: ['SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'SLURM_NTASKS_PER_NODE'],
  },
  {
    launcher: 'openmpi',
    vars: [
      'OMPI_COMM_WORLD_RANK',
      'OMPI_COMM_WORLD_SIZE',
      'OMPI_COMM_WORLD_LOCAL_RANK',
      'OMPI_COMM_WORLD_LOCAL_SIZE',
    ],
  },
];

/**
 * Reads the rank layout from the launcher that started this process: torchrun, Slurm, Open MPI or
 * a Kubernetes indexed Job, in that order; explicit options override. With nothing set the process
 * is alone (rank 0 of 1). Inconsistent values raise `STREAMS_WORLD_INVALID` naming the variable.
 */
export function world(options: WorldOptions = {}): World {
  const env = options.env ?? process.env;
  const raw = fromEnv(env, options) ?? {
    launcher: 'single' as Launcher,
    rank: 0,
    worldSize: 1,
    localRank: 0,
    localWorldSize: 1,
  };
  const explicit = options.rank !== undefined || options.worldSize !== undefined;
  const layout: RawLayout = {
    ...raw,
    launcher:
      explicit || options.localRank !== undefined || options.localWorldSize !== undefined
        ? 'explicit'
        : raw.launcher,
    rank: options.rank ?? raw.rank,
    worldSize: options.worldSize ?? raw.worldSize,
    localRank:
      options.localRank ??
      (explicit && raw.launcher === 'single' ? (options.rank ?? 0) : raw.localRank),
    localWorldSize:
      options.localWorldSize ??
      (explicit && raw.launcher === 'single' ? (options.worldSize ?? 1) : raw.localWorldSize),
  };
  if (explicit || options.localRank !== undefined || options.localWorldSize !== undefined) {
    layout.nodeRank = undefined;
    layout.numNodes = undefined;
  }
  return validate(layout);
}

function fromEnv(
  env: Record<string, string | undefined>,
  options: WorldOptions,
): RawLayout | undefined {
  for (const { launcher, vars } of LAUNCHERS) {
    const present = vars.filter((v) => env[v] !== undefined && env[v] !== '');
    if (present.length === 0) continue;
    const [rankVar, sizeVar, localRankVar, localSizeVar] = vars;
    if (env[rankVar] === undefined || env[sizeVar] === undefined) {
      const missing = [rankVar, sizeVar].filter((v) => env[v] === undefined);
      throw invalid(
        `${launcher} variables are partly set (${present.join(', ')}) but ${missing.join(' and ')} is missing`,
        `set ${rankVar} and ${sizeVar} together, or unset ${present.join(', ')}`,
      );
    }
    const rank = int(env, rankVar);
    const worldSize = int(env, sizeVar);
    const localRank = env[localRankVar] === undefined ? undefined : int(env, localRankVar);
    let localWorldSize: number | undefined;
    if (env[localSizeVar] !== undefined) {
      localWorldSize =
        launcher === 'slurm' ? slurmTasksPerNode(env, localSizeVar) : int(env, localSizeVar);
    }
    if ((localRank === undefined) !== (localWorldSize === undefined)) {
      throw invalid(
        `${localRank === undefined ? localRankVar : localSizeVar} is missing while ${
          localRank === undefined ? localSizeVar : localRankVar
        } is set`,
        `set both ${localRankVar} and ${localSizeVar}, or neither`,
      );
    }
    const layout: RawLayout = {
      launcher,
      rank,
      worldSize,
      localRank: localRank ?? 0,
      localWorldSize: localWorldSize ?? 1,
    };
    if (launcher === 'slurm') {
      if (env.SLURM_NODEID !== undefined) layout.nodeRank = int(env, 'SLURM_NODEID');
      if (env.SLURM_NNODES !== undefined) layout.numNodes = int(env, 'SLURM_NNODES');
    }
    if (localRank === undefined) {
      // Without local variables every rank is taken as its own node.
      layout.nodeRank = rank;
      layout.numNodes = worldSize;
    }
    return layout;
  }
  if (env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_INDEX !== '') {
    const rank = int(env, 'JOB_COMPLETION_INDEX');
    const worldSize =
      options.worldSize ??
      options.kubernetesWorldSize ??
      (env.STREAMS_WORLD_SIZE !== undefined ? int(env, 'STREAMS_WORLD_SIZE') : undefined);
    if (worldSize === undefined) {
      throw invalid(
        'JOB_COMPLETION_INDEX is set but the size of the indexed Job is unknown',
        'set STREAMS_WORLD_SIZE to the Job completions count (or pass kubernetesWorldSize)',
      );
    }
    return {
      launcher: 'kubernetes',
      rank,
      worldSize,
      localRank: 0,
      localWorldSize: 1,
      nodeRank: rank,
      numNodes: worldSize,
    };
  }
  return undefined;
}

/** Slurm writes SLURM_NTASKS_PER_NODE as "4", "4(x2)" or "4(x2),3": the layout must be uniform. */
function slurmTasksPerNode(env: Record<string, string | undefined>, name: string): number {
  const value = env[name] ?? '';
  const groups = value.split(',').map((g) => /^(\d+)(?:\(x(\d+)\))?$/.exec(g.trim()));
  if (groups.some((g) => g === null)) {
    throw invalid(
      `${name}="${value}" is not a Slurm task count`,
      `expect a value like "4" or "4(x2)"`,
    );
  }
  const counts = new Set(groups.map((g) => Number(g![1])));
  if (counts.size !== 1) {
    throw invalid(
      `${name}="${value}" gives nodes different numbers of tasks`,
      'launch the same number of tasks on every node (srun --ntasks-per-node)',
    );
  }
  return [...counts][0]!;
}

function int(env: Record<string, string | undefined>, name: string): number {
  const value = env[name]!;
  if (!/^\d+$/.test(value.trim())) {
    throw invalid(`${name}="${value}" is not a non-negative integer`, `set ${name} to an integer`);
  }
  return Number(value.trim());
}

function validate(l: RawLayout): World {
  const check = (ok: boolean, what: string, fix: string) => {
    if (!ok) throw invalid(`${what} (launcher ${l.launcher})`, fix);
  };
  for (const [k, v] of Object.entries({
    rank: l.rank,
    worldSize: l.worldSize,
    localRank: l.localRank,
    localWorldSize: l.localWorldSize,
  })) {
    check(
      Number.isSafeInteger(v) && v >= 0,
      `${k}=${v} is not a non-negative integer`,
      `give ${k} as an integer`,
    );
  }
  check(
    l.worldSize >= 1,
    `world size ${l.worldSize} must be at least 1`,
    'set the world size to the number of processes',
  );
  check(
    l.rank < l.worldSize,
    `rank ${l.rank} is not below world size ${l.worldSize}`,
    'ranks count from 0 to worldSize - 1',
  );
  check(
    l.localWorldSize >= 1,
    `local world size ${l.localWorldSize} must be at least 1`,
    'set the processes per node',
  );
  check(
    l.localRank < l.localWorldSize,
    `local rank ${l.localRank} is not below local world size ${l.localWorldSize}`,
    'local ranks count from 0 to localWorldSize - 1',
  );
  check(
    l.worldSize % l.localWorldSize === 0,
    `world size ${l.worldSize} is not a multiple of local world size ${l.localWorldSize}`,
    'run the same number of processes on every node',
  );
  const numNodes = l.numNodes ?? l.worldSize / l.localWorldSize;
  const nodeRank = l.nodeRank ?? Math.floor(l.rank / l.localWorldSize);
  check(
    numNodes * l.localWorldSize === l.worldSize,
    `${numNodes} nodes of ${l.localWorldSize} processes do not make world size ${l.worldSize}`,
    'check the node count and processes per node',
  );
  check(
    nodeRank < numNodes,
    `node rank ${nodeRank} is not below node count ${numNodes}`,
    'check the node rank',
  );
  check(
    nodeRank * l.localWorldSize + l.localRank === l.rank,
    `rank ${l.rank} is not node ${nodeRank} x ${l.localWorldSize} + local rank ${l.localRank}`,
    'streams expects ranks numbered node by node (rank = node * localWorldSize + localRank)',
  );
  return {
    rank: l.rank,
    worldSize: l.worldSize,
    localRank: l.localRank,
    localWorldSize: l.localWorldSize,
    nodeRank,
    numNodes,
    launcher: l.launcher,
  };
}

function invalid(message: string, fix: string): StreamsError {
  return new StreamsError('STREAMS_WORLD_INVALID', `[streams/core] ${message}`, { fix });
}
