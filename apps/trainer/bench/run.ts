// The trainer's data-path overhead on the default job: training samples/s of `streams train`
// end to end (StreamingDataset over the MDS shards of two weighted streams -> typed-array batches
// -> the @streams/cl learners, with the metrics log and checkpoints, as the run's own learner
// lines report it) against the same learners fed the same batches from memory. Paired,
// alternating rounds; the ratio of the medians is reported (target >= 0.9).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Batch } from '@streams/cl';
import { benchEntry, writeBenchResults } from '@streams/testkit';
import { validateConfig } from '../src/configLoad.js';
import { DEFAULT_JOB } from '../src/defaultJob.js';
import { Learner } from '../src/learner.js';
import { readMetrics } from '../src/metricsLog.js';
import { learnerShape, planRun, startBackend } from '../src/trainRun.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const dataDir = await mkdtemp(join(tmpdir(), 'streams-trainer-bench-'));
try {
  const config = validateConfig({ ...structuredClone(DEFAULT_JOB), dataDir });
  const backend = await startBackend(config);
  await using plan = await planRun(config, { worker: false });
  const shape = await learnerShape(config, plan);
  // The reference's batches: exactly what the data path hands the learners, every epoch of every experience.
  const experiences: Batch[][] = [];
  for (const exp of plan.experiences) {
    const batches: Batch[] = [];
    await using data = await exp.open();
    await data.rewind();
    while (data.passes < config.train.epochs) for await (const b of data.pass()) batches.push(b);
    experiences.push(batches);
  }
  const samplesPerLearner = experiences.flat().reduce((a, b) => a + b.y!.length, 0);
  let round = 0;
  const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  /**
   * `streams train` on the default job, as a process of its own (so the reference's batches held
   * here do not weigh on its memory): samples over training seconds, from its metrics log.
   */
  const trainer = async () => {
    const dir = join(dataDir, `run-${round++}`);
    await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@streams/source',
        cli,
        'train',
        '--quiet',
        '--out',
        dir,
      ].concat(['--data-dir', dataDir, '--set', 'report.html=false', '--set', 'report.png=false']),
      { maxBuffer: 1 << 24 },
    );
    const lines = await readMetrics(join(dir, 'metrics.jsonl'));
    let samples = 0;
    let seconds = 0;
    for (const l of lines) {
      if (l.type !== 'learner') continue;
      samples += l.samples;
      seconds += l.trainSeconds;
    }
    await rm(dir, { recursive: true, force: true });
    return samples / seconds;
  };
  /** The same learners on the same batches from memory, stepped as the trainer steps them. */
  const fromMemory = async () => {
    let seconds = 0;
    for (const cfg of config.learners) {
      const learner = Learner.create(cfg, shape);
      try {
        for (const [k, batches] of experiences.entries()) {
          const t = performance.now();
          await learner.beginExperience(k);
          for (const [i, b] of batches.entries())
            await learner.trainBatch(b, { measure: i % config.train.logEvery === 0 });
          await learner.endExperience();
          seconds += (performance.now() - t) / 1000;
        }
      } finally {
        learner.dispose();
      }
    }
    return (samplesPerLearner * config.learners.length) / seconds;
  };
  await fromMemory(); // warm-up: JIT, kernels, page cache
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      a.push(await trainer());
      b.push(await fromMemory());
    } else {
      b.push(await fromMemory());
      a.push(await trainer());
    }
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  console.log(
    `trainer / memory per round: ${a.map((v, i) => (v / b[i]!).toFixed(3)).join(' ')} (median ${median(a.map((v, i) => v / b[i]!)).toFixed(3)})`,
  );
  writeBenchResults([
    benchEntry({
      name: `trainer end to end, default job (${config.learners.map((l) => l.name).join(' + ')}, ${samplesPerLearner} samples each, ${backend.name}), median of ${ROUNDS}`,
      unit: 'samples/s',
      value: median(a),
      reference: 'same cl learners, same batches from memory',
      referenceValue: median(b),
      target: 0.9,
    }),
  ]);
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
