import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { loadMnist } from '@streams/multistream';
import { MDS_REFERENCE_DIR } from '@streams/testkit';
import sharp from 'sharp';

/** The MosaicML reference dataset, vendored in the test kit. */
export const REF = MDS_REFERENCE_DIR;
export const PLAIN = join(REF, 'plain');

/** A writable that keeps what a command prints. */
export function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/**
 * A sink that says whether it is a terminal; as a TTY it has what cli-progress draws with
 * (columns, cursor moves).
 */
export function ttySink(isTTY: boolean): {
  stream: Writable & { isTTY?: boolean };
  text: () => string;
} {
  const s = sink();
  const stream = s.stream as Writable & { isTTY?: boolean; columns?: number };
  stream.isTTY = isTTY;
  if (isTTY) {
    stream.columns = 200;
    Object.assign(stream, { cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  }
  return { stream, text: s.text };
}

/** The JSON lines a command printed. */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as T);
}

/** Every sample of the reference dataset, as MosaicML's writer received it. */
export async function expected(): Promise<Record<string, unknown>[]> {
  return JSON.parse(await readFile(join(REF, 'expected.json'), 'utf8')).plain.samples;
}

/**
 * Data dir the trainer tests share: registered datasets are written there once (atomically, keyed
 * by everything their bytes depend on), so test files running at once reuse one copy.
 */
export const TRAIN_DATA_DIR = join(tmpdir(), 'streams-trainer-test-data');

/** The default job at a reduced size: 600 samples per experience, one epoch. */
export const REDUCED = [
  '--set',
  'data.epochSize=600',
  '--set',
  'train.epochs=1',
  '--data-dir',
  TRAIN_DATA_DIR,
];

/** Runs the CLI in this process; returns its exit code and what it printed. */
export async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const { main } = await import('../src/main.js');
  const out = sink();
  const err = sink();
  const code = await main(argv, out.stream, err.stream);
  return { code, out: out.text(), err: err.text() };
}

/** Arguments that start the CLI from its TypeScript sources in a child process. */
export function cliArgs(args: string[]): string[] {
  const entry = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  return ['--import', 'tsx', '--conditions=@streams/source', entry, ...args];
}

/** A fresh temporary directory, removed by the returned disposer. */
export async function tempDir(
  prefix = 'streams-trainer-',
): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

/** Arguments that turn the report off (tests that look at the metrics log only). */
export const NO_REPORT = ['--set', 'report.html=false', '--set', 'report.png=false'];

/**
 * A child's stderr without the native TensorFlow library's start-up notices (absl's pre-init
 * warning and oneDNN's note), which it writes to fd 2 itself whatever TF_CPP_MIN_LOG_LEVEL says.
 */
export function withoutTfNotices(err: string): string {
  return err
    .split('\n')
    .filter(
      (l) =>
        !/^WARNING: All log messages before absl::InitializeLog\(\)/.test(l) &&
        !/^I\d{4} [\d:.]+ +\d+ port\.cc:\d+\] oneDNN custom operations are on/.test(l),
    )
    .join('\n');
}

/**
 * Writes `n` digits of the mnist package as 28x28 grayscale PNGs `d<k>.png` into `dir`; returns
 * each one's file name and label, in order.
 */
export async function writeDigitPngs(
  dir: string,
  n: number,
): Promise<Array<{ file: string; label: number }>> {
  const mnist = await loadMnist();
  const out: Array<{ file: string; label: number }> = [];
  for (let k = 0; k < n; k++) {
    const i = (k * 7919) % mnist.numSamples;
    const pixels = Uint8Array.from(mnist.x.subarray(i * 784, (i + 1) * 784), (v) =>
      Math.round(v * 255),
    );
    const png = await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toBuffer();
    await writeFile(join(dir, `d${k}.png`), png);
    out.push({ file: `d${k}.png`, label: mnist.y[i]! });
  }
  return out;
}
