import cliProgress from 'cli-progress';

/** What the progress display shows about the step window just logged. */
export interface ProgressFields {
  learner: string;
  experience: string;
  epoch: string;
  samplesPerSecond: number;
  /** Null while no step reported a loss (GDumb, joint) or accuracy (autoencoders). */
  loss: number | null;
  accuracy: number | null;
  cacheHitRate: number;
  /** Per stream: actual vs target share. */
  shares: Array<{ stream: string; target: number; actual: number }>;
}

/** Live progress of `streams train`: bars on a TTY, periodic plain lines otherwise, nothing with --quiet. */
export interface TrainProgress {
  /** Starts the bar of one experience (`total` steps, or 0 when unknown). */
  begin(total: number, fields: ProgressFields): void;
  update(done: number, fields: ProgressFields): void;
  /** A message that stays (printed above the bars on a TTY). */
  log(text: string): void;
  stop(): void;
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

function summary(f: ProgressFields): string {
  const shares = f.shares.map((s) => `${s.stream} ${pct(s.actual)}/${pct(s.target)}`).join(' ');
  const loss = f.loss === null ? '-' : f.loss.toFixed(3);
  const acc = f.accuracy === null ? '' : ` | acc ${pct(f.accuracy)}`;
  return `loss ${loss}${acc} | ${Math.round(f.samplesPerSecond).toLocaleString('en-US')} samples/s | cache ${pct(f.cacheHitRate)} | shares ${shares}`;
}

/** Picks the display for `err`: bars (TTY), plain lines every `intervalMs` (pipes, files), or none. */
export function createProgress(
  err: NodeJS.WritableStream & { isTTY?: boolean },
  options: { quiet?: boolean; intervalMs?: number } = {},
): TrainProgress {
  if (options.quiet) return { begin() {}, update() {}, log() {}, stop() {} };
  if (!err.isTTY) return plainProgress(err, options.intervalMs ?? 2000);
  const bars = new cliProgress.MultiBar(
    {
      stream: err as NodeJS.WritableStream & NodeJS.WriteStream,
      format:
        '{learner} | exp {experience} | epoch {epoch} | {bar} {percentage}% | ETA {eta_formatted} | {summary}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  const payload = (f: ProgressFields) => ({ ...f, summary: summary(f) });
  return {
    begin(total, f) {
      bar?.stop();
      bar = bars.create(Math.max(total, 1), 0, payload(f));
    },
    update(done, f) {
      bar?.update(done, payload(f));
    },
    log(text) {
      bars.log(`${text}\n`);
    },
    stop() {
      bars.stop();
    },
  };
}

function plainProgress(err: NodeJS.WritableStream, intervalMs: number): TrainProgress {
  let last = 0;
  let total = 0;
  return {
    begin(t, f) {
      total = t;
      last = Date.now();
      err.write(`${f.learner}: experience ${f.experience} (${t} steps)\n`);
    },
    update(done, f) {
      const now = Date.now();
      if (now - last < intervalMs && done < total) return;
      last = now;
      err.write(
        `${f.learner}: exp ${f.experience} epoch ${f.epoch} step ${done}/${total || '?'} | ${summary(f)}\n`,
      );
    },
    log(text) {
      err.write(`${text}\n`);
    },
    stop() {},
  };
}
