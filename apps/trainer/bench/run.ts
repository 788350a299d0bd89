// The trainer's data-path overhead on the default job: training samples/s when the learner is fed
// by the trainer (StreamingDataset over the MDS shards of two weighted streams -> typed-array
// batches) against the same learner fed the same batches from memory. Paired, alternating rounds;
// the ratio of the medians is reported (target >= 0.9).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchEntry, writeBenchResults } from '@streams/testkit';
import { validateConfig } from '../src/configLoad.js';
import { DEFAULT_JOB } from '../src/defaultJob.js';
import { planData } from '../src/experiences.js';
import type { Batch } from '../src/learner.js';
import { createLearner } from '../src/learner.js';
import { resolveSources } from '../src/sources.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const dataDir = await mkdtemp(join(tmpdir(), 'streams-trainer-bench-'));
try {
  const config = validateConfig({
    ...structuredClone(DEFAULT_JOB),
    dataDir,
    learners: [DEFAULT_JOB.learners![0]!],
  });
  const plan = planData(config, await resolveSources(config));
  const shape = { inputSize: 784, numClasses: plan.numClasses, heads: plan.heads, seed: 0 };
  const exp = plan.experiences[0]!;
  // The reference's batches: exactly what the data path hands the learner in one epoch.
  const inMemory: Batch[] = [];
  {
    await using data = await exp.open();
    data.rewind();
    for await (const b of data.pass()) inMemory.push(b);
  }
  const samples = inMemory.reduce((a, b) => a + b.y.length, 0);
  const streamed = async () => {
    const learner = await createLearner(config.learners[0]!, shape);
    await using data = await exp.open();
    data.rewind();
    const t = performance.now();
    await learner.trainExperience(
      { [Symbol.asyncIterator]: () => data.pass() },
      { experience: 0, epochs: 1 },
    );
    return samples / ((performance.now() - t) / 1000);
  };
  const fromMemory = async () => {
    const learner = await createLearner(config.learners[0]!, shape);
    const t = performance.now();
    await learner.trainExperience(
      {
        async *[Symbol.asyncIterator]() {
          yield* inMemory;
        },
      },
      { experience: 0, epochs: 1 },
    );
    return samples / ((performance.now() - t) / 1000);
  };
  await streamed(); // warm-up: JIT, page cache
  await fromMemory();
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      a.push(await streamed());
      b.push(await fromMemory());
    } else {
      b.push(await fromMemory());
      a.push(await streamed());
    }
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  writeBenchResults([
    benchEntry({
      name: `trainer end to end, default job experience 1 (${samples} samples, builtin learner), median of ${ROUNDS}`,
      unit: 'samples/s',
      value: median(a),
      reference: 'same learner, same batches from memory',
      referenceValue: median(b),
      target: 0.9,
    }),
  ]);
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
