import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStreamsError } from '@streams/core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { batches, blobs } from '../test/synthetic.js';
import { useTestBackend } from '../test/tfBackend.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { ContinualLearner } from './continualLearner.js';

describe('checkpoints', () => {
  let dir: string;
  beforeAll(useTestBackend);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streams-cl-ckpt-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips every array type and the caller data', async () => {
    const arrays = {
      a: Float32Array.from([1.5, -2]),
      b: Int32Array.from([7]),
      c: Float64Array.from([Math.PI]),
    };
    await writeCheckpoint(dir, {
      state: { k: 1 },
      arrays,
      callerData: { dataset: { epoch: 3 } },
      backend: 'cpu',
    });
    const { manifest, arrays: back } = await readCheckpoint(dir);
    expect(back).toEqual(arrays);
    expect(manifest).toMatchObject({
      state: { k: 1 },
      callerData: { dataset: { epoch: 3 } },
      backend: 'cpu',
    });
  });

  it('replaces the previous checkpoint whole, and cleans what a crashed save left', async () => {
    await writeCheckpoint(dir, { state: 1, arrays: { a: new Float32Array(4) }, backend: 'cpu' });
    await writeFile(join(dir, 'checkpoint.json.dead.tmp'), 'partial');
    await writeFile(join(dir, 'tensors-dead.bin.tmp'), 'partial');
    await writeCheckpoint(dir, { state: 2, arrays: { a: new Float32Array(8) }, backend: 'cpu' });
    const files = await readdir(dir);
    expect(files.filter((f) => f.startsWith('tensors-'))).toHaveLength(1);
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
    expect((await readCheckpoint(dir)).manifest.state).toBe(2);
  });

  it('refuses damaged or missing checkpoints with STREAMS_STATE_INVALID', async () => {
    const l = new ContinualLearner({
      model: { kind: 'mlp', inputShape: 4, hidden: [3], outputs: 2 },
      optimizer: { name: 'sgd', lr: 0.1 },
    });
    await l.save(dir);
    const name = (await readdir(dir)).find((f) => f.startsWith('tensors-'))!;
    const bytes = await readFile(join(dir, name));
    bytes[0] = bytes[0]! ^ 1;
    await writeFile(join(dir, name), bytes);
    for (const target of [dir, join(dir, 'nothing-here')]) {
      try {
        await ContinualLearner.load(target);
        expect.unreachable();
      } catch (err) {
        expect(isStreamsError(err, 'STREAMS_STATE_INVALID')).toBe(true);
      }
    }
    l.dispose();
  });

  it('saves optimizer state and memories; a loaded learner reports the same memory', async () => {
    const data = batches(blobs({ classes: 3, perClass: 10, dim: 4, seed: 1 }), 5);
    const l = new ContinualLearner({
      model: { kind: 'mlp', inputShape: 4, hidden: [3], outputs: 3 },
      optimizer: { name: 'adam', lr: 0.01 },
      strategy: [{ name: 'replay', memorySize: 12 }, { name: 'ewc' }],
      seed: 9,
    });
    await l.trainExperience(data);
    await l.save(dir);
    const back = await ContinualLearner.load(dir);
    expect(back.memory()).toEqual(l.memory());
    expect(back.optimizer.step).toBe(l.optimizer.step);
    expect(back.config).toEqual(l.config);
    l.dispose();
    back.dispose();
  });
});
