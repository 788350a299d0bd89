// The trainer's data-path overhead on the default job: training samples/s of `streams train`
// end to end (StreamingDataset over the MDS shards of two weighted streams -> typed-array batches
// -> the @streams/cl learners, with the metrics log and checkpoints, as the run's own learner
// lines report it) against the same learners fed the same batches from memory. Each side runs in
// a fresh process of its own, so both start with cold kernels and neither holds the other's
// memory; only training is timed. Paired, alternating rounds; the ratio of the medians is
// reported (target >= 0.9).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Batch } from '@streams/cl';
import { benchEntry, median, pairedRounds, writeBenchResults } from '@streams/testkit';
import { validateConfig } from '../src/configLoad.js';
import { DEFAULT_JOB } from '../src/defaultJob.js';
import { Learner } from '../src/learner.js';
import { readMetrics } from '../src/metricsLog.js';
import { learnerShape, planRun, startBackend } from '../src/trainRun.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const self = fileURLToPath(import.meta.url);
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const tsx = ['--import', 'tsx', '--conditions=@streams/source'];
const run = promisify(execFile);

/** The default job's config, its data written into `dataDir`. */
const jobConfig = (dataDir: string) => validateConfig({ ...structuredClone(DEFAULT_JOB), dataDir });

/**
 * The reference (this file run with `reference <dataDir>`): the default job's learners trained on
 * exactly the batches the data path yields (every epoch of every experience, read into memory
 * first), stepped as the trainer steps them. Prints samples/s over the training time.
 */
async function reference(dataDir: string): Promise<void> {
  const config = jobConfig(dataDir);
  await startBackend(config);
  await using plan = await planRun(config, { worker: false });
  const shape = await learnerShape(config, plan);
  const experiences: Batch[][] = [];
  for (const exp of plan.experiences) {
    const batches: Batch[] = [];
    await using data = await exp.open();
    await data.rewind();
    while (data.passes < config.train.epochs) for await (const b of data.pass()) batches.push(b);
    experiences.push(batches);
  }
  const samples = experiences.flat().reduce((a, b) => a + b.y!.length, 0);
  let seconds = 0;
  for (const cfg of config.learners) {
    const learner = Learner.create(cfg, shape);
    try {
      for (const [k, batches] of experiences.entries()) {
        await learner.beginExperience(k);
        const t = performance.now();
        for (const [i, b] of batches.entries())
          await learner.trainBatch(b, { measure: i % config.train.logEvery === 0 });
        await learner.endExperience();
        seconds += (performance.now() - t) / 1000;
      }
    } finally {
      learner.dispose();
    }
  }
  console.log(JSON.stringify({ samplesPerSecond: (samples * config.learners.length) / seconds }));
}

/** `streams train` on the default job: samples over training seconds, from its metrics log. */
async function trainer(dataDir: string, dir: string): Promise<number> {
  await run(
    process.execPath,
    [...tsx, cli, 'train', '--quiet', '--out', dir, '--data-dir', dataDir].concat([
      '--set',
      'report.html=false',
      '--set',
      'report.png=false',
    ]),
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
}

async function fromMemory(dataDir: string): Promise<number> {
  const { stdout } = await run(process.execPath, [...tsx, self, 'reference', dataDir], {
    maxBuffer: 1 << 24,
  });
  return (JSON.parse(stdout.trim().split('\n').at(-1)!) as { samplesPerSecond: number })
    .samplesPerSecond;
}

if (process.argv[2] === 'reference') {
  await reference(process.argv[3]!);
} else {
  const dataDir = await mkdtemp(join(tmpdir(), 'streams-trainer-bench-'));
  try {
    const config = jobConfig(dataDir);
    const backend = await startBackend(config);
    // Writes the datasets once, so no round pays for it.
    await (await planRun(config, { worker: false }))[Symbol.asyncDispose]();
    let run = 0;
    const { as: a, bs: b } = await pairedRounds(
      () => trainer(dataDir, join(dataDir, `run-${run++}`)),
      () => fromMemory(dataDir),
      { rounds: ROUNDS },
    );
    const ratios = a.map((v, i) => v / b[i]!);
    console.log(
      `trainer / memory per round: ${ratios.map((v) => v.toFixed(3)).join(' ')} (median ${median(ratios).toFixed(3)})`,
    );
    writeBenchResults([
      benchEntry({
        name: `trainer end to end, default job (${config.learners.map((l) => l.name).join(' + ')}, ${backend.name}), median of ${ROUNDS}`,
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
}
