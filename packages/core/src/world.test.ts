import { describe, expect, it } from 'vitest';
import { StreamsError } from './errors.js';
import { world } from './world.js';

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(StreamsError);
    return { code: (e as StreamsError).code, message: (e as StreamsError).message };
  }
  throw new Error('expected an error');
};

describe('world', () => {
  it('is a single process when nothing is set', () => {
    expect(world({ env: {} })).toEqual({
      rank: 0,
      worldSize: 1,
      localRank: 0,
      localWorldSize: 1,
      nodeRank: 0,
      numNodes: 1,
      launcher: 'single',
    });
  });

  it('reads torchrun', () => {
    const w = world({
      env: { RANK: '5', WORLD_SIZE: '8', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '4' },
    });
    expect(w).toEqual({
      rank: 5,
      worldSize: 8,
      localRank: 1,
      localWorldSize: 4,
      nodeRank: 1,
      numNodes: 2,
      launcher: 'torchrun',
    });
  });

  it('reads Slurm, including the compressed tasks-per-node form', () => {
    const w = world({
      env: {
        SLURM_PROCID: '3',
        SLURM_NTASKS: '6',
        SLURM_LOCALID: '0',
        SLURM_NTASKS_PER_NODE: '3(x2)',
        SLURM_NODEID: '1',
        SLURM_NNODES: '2',
      },
    });
    expect(w).toMatchObject({
      rank: 3,
      worldSize: 6,
      localRank: 0,
      localWorldSize: 3,
      nodeRank: 1,
      numNodes: 2,
      launcher: 'slurm',
    });
    expect(
      codeOf(() =>
        world({
          env: {
            SLURM_PROCID: '0',
            SLURM_NTASKS: '5',
            SLURM_LOCALID: '0',
            SLURM_NTASKS_PER_NODE: '3,2',
          },
        }),
      ).message,
    ).toMatch(/different numbers of tasks/);
  });

  it('reads Open MPI', () => {
    const w = world({
      env: {
        OMPI_COMM_WORLD_RANK: '2',
        OMPI_COMM_WORLD_SIZE: '4',
        OMPI_COMM_WORLD_LOCAL_RANK: '0',
        OMPI_COMM_WORLD_LOCAL_SIZE: '2',
      },
    });
    expect(w).toMatchObject({
      rank: 2,
      worldSize: 4,
      localRank: 0,
      localWorldSize: 2,
      nodeRank: 1,
      launcher: 'openmpi',
    });
  });

  it('reads Kubernetes indexed Jobs with a size from env or option', () => {
    expect(world({ env: { JOB_COMPLETION_INDEX: '3', STREAMS_WORLD_SIZE: '4' } })).toMatchObject({
      rank: 3,
      worldSize: 4,
      launcher: 'kubernetes',
    });
    expect(world({ env: { JOB_COMPLETION_INDEX: '1' }, kubernetesWorldSize: 2 })).toMatchObject({
      rank: 1,
      worldSize: 2,
    });
    const e = codeOf(() => world({ env: { JOB_COMPLETION_INDEX: '1' } }));
    expect(e.code).toBe('STREAMS_WORLD_INVALID');
    expect(e.message).toMatch(/STREAMS_WORLD_SIZE/);
  });

  it('explicit values override the environment', () => {
    const w = world({ env: { RANK: '1', WORLD_SIZE: '2' }, rank: 3, worldSize: 4 });
    expect(w).toMatchObject({ rank: 3, worldSize: 4, launcher: 'explicit' });
    expect(world({ env: {}, rank: 2, worldSize: 3 })).toMatchObject({
      rank: 2,
      worldSize: 3,
      localRank: 2,
      localWorldSize: 3,
      numNodes: 1,
    });
  });

  it('rejects missing and inconsistent values with the variable named', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ RANK: '0' }, /WORLD_SIZE is missing/],
      [{ WORLD_SIZE: '2' }, /RANK is missing/],
      [{ RANK: '2', WORLD_SIZE: '2' }, /rank 2 is not below world size 2/],
      [{ RANK: 'x', WORLD_SIZE: '2' }, /RANK="x" is not a non-negative integer/],
      [{ RANK: '-1', WORLD_SIZE: '2' }, /RANK="-1"/],
      [{ RANK: '0', WORLD_SIZE: '0' }, /world size 0 must be at least 1/],
      [{ RANK: '0', WORLD_SIZE: '3', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '2' }, /not a multiple/],
      [
        { RANK: '3', WORLD_SIZE: '4', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '2' },
        /rank 3 is not node 1 x 2 \+ local rank 0/,
      ],
      [{ RANK: '0', WORLD_SIZE: '4', LOCAL_RANK: '0' }, /LOCAL_WORLD_SIZE is missing/],
      [
        { RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '2', LOCAL_WORLD_SIZE: '2' },
        /local rank 2 is not below/,
      ],
    ];
    for (const [env, re] of cases) {
      const e = codeOf(() => world({ env }));
      expect(e.code).toBe('STREAMS_WORLD_INVALID');
      expect(e.message).toMatch(re);
    }
    expect(codeOf(() => world({ env: {}, rank: 4, worldSize: 4 })).code).toBe(
      'STREAMS_WORLD_INVALID',
    );
  });
});
