import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { redactUrl, StreamsError, signalReason, throwIfAborted } from '@streams/core';
import ffmpeg from 'fluent-ffmpeg';
import { transformsEvents } from './events.js';
import { ffmpegInfo } from './ffmpegInfo.js';
import { ffmpegLimiter } from './limiter.js';
import {
  isRemoteMedia,
  RECONNECT_CHATTER,
  type RemoteMedia,
  servedInputOptions,
} from './remoteMedia.js';

/**
 * Where media bytes come from: a local file path, bytes in memory, a byte range of a local file
 * (`end` exclusive; e.g. one member of a tar shard), a Node readable, or a remote object read by
 * ranges ({@link RemoteMedia}). Bytes and streams are fed through ffmpeg's stdin, so no temporary
 * file is written (except for MP4s whose index sits at the end, which need seeking: those are
 * spilled to a temporary file once); a remote object is served to ffmpeg on loopback.
 */
export type MediaInput =
  | string
  | Uint8Array
  | { path: string; start?: number; end?: number }
  | Readable
  | RemoteMedia;

const live = new Set<number>();

/** PIDs of ffmpeg/ffprobe children this process runs now (for diagnostics and the no-zombie tests). */
export function activeFfmpegPids(): number[] {
  return [...live];
}

function track(proc: ChildProcess, binary: string): void {
  const pid = proc.pid;
  if (pid === undefined) return;
  live.add(pid);
  transformsEvents.emit({ kind: 'info', name: 'ffmpeg.spawn', attrs: { pid, binary } });
  proc.once('exit', (code, sig) => {
    live.delete(pid);
    transformsEvents.emit({
      kind: 'info',
      name: 'ffmpeg.exit',
      attrs: { pid, binary, code: code ?? undefined, signal: sig ?? undefined },
    });
  });
}

function feed(input: MediaInput, stdin: Writable | null): void {
  if (!stdin) return;
  stdin.on('error', () => {}); // EPIPE when ffmpeg has read enough and closed its stdin
  if (typeof input === 'string') {
    stdin.end();
  } else if (input instanceof Uint8Array) {
    stdin.end(input);
  } else if (input instanceof Readable) {
    input.on('error', () => stdin.destroy());
    input.pipe(stdin);
  } else if (isRemoteMedia(input)) {
    stdin.end(); // read by ffmpeg over loopback (see withRemoteMedia), never through stdin
  } else {
    const end = input.end === undefined ? undefined : input.end - 1;
    if (end !== undefined && end < (input.start ?? 0)) {
      stdin.end();
      return;
    }
    const file = createReadStream(input.path, { start: input.start ?? 0, end });
    file.on('error', () => stdin.destroy());
    file.pipe(stdin);
    stdin.on('close', () => file.destroy());
  }
}

/** Rejects inputs of no supported kind (a clear error instead of a failure deep in a stream). */
export function checkInput(input: MediaInput): void {
  const ok =
    typeof input === 'string' ||
    input instanceof Uint8Array ||
    input instanceof Readable ||
    isRemoteMedia(input) ||
    (typeof input === 'object' &&
      input !== null &&
      typeof (input as { path?: unknown }).path === 'string');
  if (!ok) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/transforms] unsupported media input ${String(input)}`,
      {
        fix: 'pass a file path, a Uint8Array, { path, start, end }, a Readable or { url, reader }',
      },
    );
  }
}

/** A random offset needs the duration from a probe first, so the input must be readable twice (not a stream). */
export function checkRandomOffsetInput(input: MediaInput): void {
  if (input instanceof Readable) {
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      '[streams/transforms] a random offset needs the duration first, and a stream can be read only once',
      {
        fix: 'pass bytes, a path or { path, start, end } for random offsets, or give the offset in seconds',
      },
    );
  }
}

/** A short name of an input for error messages. */
export function describeInput(input: MediaInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `${input.byteLength} bytes`;
  if (input instanceof Readable) return 'a stream';
  if (isRemoteMedia(input)) return redactUrl(input.url);
  return `${input.path} [${input.start ?? 0}, ${input.end ?? 'end'})`;
}

/** Result of one ffmpeg run: stdout bytes and the stderr text. */
export interface FfmpegRun {
  data: Uint8Array;
  stderr: string;
}

/** Options of {@link runFfmpeg}. */
export interface RunFfmpegOptions {
  input: MediaInput;
  inputOptions?: string[];
  /** Output options, ending with a raw format (`-f rawvideo`, `-f f32le`); the output is stdout. */
  outputOptions: string[];
  /** Keep ffmpeg's stream summary on stderr (to read the output size); otherwise only errors are logged. */
  verbose?: boolean;
  /** Expected stdout size: the buffer is allocated once (frames x height x width x channels). */
  expectedBytes?: number;
  signal?: AbortSignal;
}

/** ffmpeg or ffprobe failed; `stderr` keeps its log for diagnosis. */
export class FfmpegFailed extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/**
 * Runs ffmpeg through fluent-ffmpeg with stdout collected into one buffer, under the ffmpeg
 * concurrency limit. Aborting kills the child (SIGKILL) and rejects only after it has exited,
 * so no process outlives its call.
 */
export async function runFfmpeg(options: RunFfmpegOptions): Promise<FfmpegRun> {
  checkInput(options.input);
  return withSpill(options.input, (input) => runOnce({ ...options, input }));
}

/**
 * Runs `fn` on the input; when it fails because an MP4 keeps its index (moov atom) at the end,
 * which a pipe cannot seek to, writes the bytes once to a temporary file and runs `fn` on that.
 */
export async function withSpill<T>(
  input: MediaInput,
  fn: (input: MediaInput) => Promise<T>,
): Promise<T> {
  try {
    return await fn(input);
  } catch (err) {
    const spillable =
      input instanceof Uint8Array ||
      (typeof input === 'object' && 'path' in input && !(input instanceof Readable));
    if (
      !(err instanceof FfmpegFailed) ||
      !spillable ||
      !/moov atom not found|partial file/i.test(err.stderr)
    ) {
      throw err;
    }
    const dir = await mkdtemp(join(tmpdir(), 'streams-ffmpeg-'));
    try {
      const file = join(dir, 'input');
      await writeFile(
        file,
        input instanceof Uint8Array
          ? input
          : await readRange(input as { path: string; start?: number; end?: number }),
      );
      return await fn(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

async function readRange(r: { path: string; start?: number; end?: number }): Promise<Uint8Array> {
  const whole = await readFile(r.path);
  return whole.subarray(r.start ?? 0, r.end ?? whole.length);
}

async function runOnce(options: RunFfmpegOptions): Promise<FfmpegRun> {
  const { signal } = options;
  throwIfAborted(signal);
  const bin = await ffmpegInfo();
  return ffmpegLimiter.run(
    () =>
      new Promise<FfmpegRun>((resolve, reject) => {
        throwIfAborted(signal);
        const stderrLines: string[] = [];
        const cmd = ffmpeg({ stdoutLines: 0 })
          .setFfmpegPath(bin.path)
          .input(typeof options.input === 'string' ? options.input : 'pipe:0')
          .inputOptions([
            '-hide_banner',
            '-nostats',
            '-loglevel',
            options.verbose ? 'info' : 'error',
            // A file input must not read the terminal; a stdin input reads its bytes there.
            ...(typeof options.input === 'string' ? ['-nostdin'] : []),
            ...servedInputOptions(options.input),
            ...(options.inputOptions ?? []),
          ])
          .outputOptions(options.outputOptions);
        let chunks: Buffer[] = [];
        let pre: Uint8Array | undefined = options.expectedBytes
          ? new Uint8Array(options.expectedBytes)
          : undefined;
        let size = 0;
        let proc: ChildProcess | undefined;
        let settled = false;
        let aborted = false;
        const finish = (fn: () => void) => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          fn();
        };
        const onAbort = () => {
          aborted = true;
          const reason = signalReason(signal!);
          // Not spawned yet: settle when fluent reports 'start' (then kill) or 'error'.
          if (!proc) return;
          if (proc.exitCode !== null || proc.signalCode !== null)
            return finish(() => reject(reason));
          proc.once('exit', () => finish(() => reject(reason)));
          proc.kill('SIGKILL');
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        cmd.on('stderr', (line: string) => {
          if (RECONNECT_CHATTER.test(line)) return;
          stderrLines.push(line);
          if (stderrLines.length > 200) stderrLines.shift();
        });
        cmd.on('start', () => {
          proc = (cmd as unknown as { ffmpegProc: ChildProcess }).ffmpegProc;
          track(proc, 'ffmpeg');
          if (aborted) return onAbort();
          feed(options.input, proc.stdin);
        });
        cmd.on('error', (err: Error) => {
          if (aborted) {
            // Killed by us: the exit listener settles. Failed before spawning: settle now.
            if (!proc) finish(() => reject(signalReason(signal!)));
            return;
          }
          const stderr = stderrLines.join('\n');
          const detail =
            stderrLines
              .filter((l) => !/^\s/.test(l))
              .slice(-3)
              .join('; ') || err.message;
          const fail = () => reject(new FfmpegFailed(`ffmpeg failed: ${detail}`, stderr));
          // Reject after the child is gone, never with a live process behind.
          if (proc && proc.exitCode === null && proc.signalCode === null)
            proc.once('exit', () => finish(fail));
          else finish(fail);
        });
        // fluent-ffmpeg reports 'end' at process exit without waiting for stdout to drain, and
        // turns an output stream's 'close' into an error if the exit lags 20 ms behind (it does
        // under load). So the output stream never emits 'close', and the run completes only when
        // both the process ended and every stdout byte arrived.
        let processEnded = false;
        let outputEnded = false;
        const complete = () => {
          if (!processEnded || !outputEnded) return;
          let data: Uint8Array;
          if (pre) data = size === pre.length ? pre : pre.subarray(0, size);
          else data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          chunks = [];
          pre = undefined;
          finish(() => resolve({ data, stderr: stderrLines.join('\n') }));
        };
        cmd.on('end', () => {
          processEnded = true;
          complete();
        });
        const out = new PassThrough({ emitClose: false });
        cmd.pipe(out, { end: true });
        out.on('end', () => {
          outputEnded = true;
          complete();
        });
        out.on('error', () => {}); // reported through the command's error event
        out.on('data', (chunk: Buffer) => {
          if (pre && size + chunk.length <= pre.length) pre.set(chunk, size);
          else {
            if (pre) {
              chunks.push(Buffer.from(pre.buffer, 0, size));
              pre = undefined;
            }
            chunks.push(chunk);
          }
          size += chunk.length;
        });
      }),
    { signal },
  );
}

/** Spawns a helper (ffprobe, `ffmpeg -i`) with the input on stdin when needed; killed on abort. */
export function runTool(
  bin: string,
  args: string[],
  input: MediaInput,
  signal: AbortSignal | undefined,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  throwIfAborted(signal);
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    track(proc, bin);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout.on('data', (c: Buffer) => out.push(c));
    proc.stderr.on('data', (c: Buffer) => err.push(c));
    const onAbort = () => proc.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    proc.on('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    proc.on('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(signalReason(signal));
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code,
      });
    });
    feed(input, proc.stdin);
  });
}
