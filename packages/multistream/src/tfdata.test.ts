import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeMds } from '../test/fixtures.js';
import { StreamingDataset } from './streamingDataset.js';
import { defaultToTensors, toTfDataset } from './tfdata.js';

describe('tf.data adapter', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dir: string;
  beforeAll(async () => {
    tmp = await tempDir();
    dir = join(tmp.dir, 'ds');
    await writeMds(dir, { n: 10, tag: 1, bytes: 6 });
    await tf.setBackend('cpu');
  });
  afterAll(() => tmp.cleanup());

  it('batches samples mapped to tensors, one StreamingDataset epoch per tf iteration', async () => {
    await using ds = await StreamingDataset.open<{ uid: number; payload: Uint8Array }>({
      local: dir,
      world: { rank: 0, worldSize: 1 },
    });
    const tfds = (
      await toTfDataset(ds, {
        map: (s, t) => ({
          xs: t.tensor1d(Float32Array.from(s.payload)),
          ys: t.scalar(s.uid - 1e6),
        }),
      })
    ).batch(4);
    for (let epoch = 0; epoch < 2; epoch++) {
      const shapes: number[][] = [];
      const ys: number[] = [];
      await tfds.forEachAsync((b) => {
        const { xs, ys: y } = b as { xs: tf.Tensor; ys: tf.Tensor };
        shapes.push(xs.shape);
        ys.push(...y.dataSync());
        tf.dispose([xs, y]);
      });
      expect(shapes).toEqual([
        [4, 6],
        [4, 6],
        [2, 6],
      ]);
      expect(ys.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(ds.epoch).toBe(epoch + 1);
    }
  });

  it('converts numbers, typed arrays and ndarrays by default', () => {
    const t = defaultToTensors(
      {
        a: 3,
        b: Float64Array.of(1, 2),
        c: { data: Int16Array.of(1, 2, 3, 4), shape: [2, 2] },
        d: 'text',
      },
      tf,
    ) as Record<string, tf.Tensor>;
    expect(Object.keys(t)).toEqual(['a', 'b', 'c']);
    expect(t.b!.dtype).toBe('float32');
    expect(t.c!.shape).toEqual([2, 2]);
    expect([...t.c!.dataSync()]).toEqual([1, 2, 3, 4]);
    tf.dispose(Object.values(t));
  });
});
