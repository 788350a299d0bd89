import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StreamsError } from '@streams/core';
import type { StateArrays } from './strategy.js';

const FORMAT = 'streams-cl-checkpoint';
const VERSION = 1;
const MANIFEST = 'checkpoint.json';

type Dtype = 'float32' | 'int32' | 'float64';

interface Entry {
  name: string;
  dtype: Dtype;
  offset: number;
  length: number;
}

/** The manifest of a checkpoint directory (`checkpoint.json`). */
export interface CheckpointManifest {
  format: typeof FORMAT;
  version: number;
  createdAt: string;
  /** The tfjs backend it was saved on (bit-for-bit continuation holds on the same backend). */
  backend: string;
  /** The saved JSON state. */
  state: unknown;
  /** Caller data saved with it, e.g. the dataset state. */
  callerData: unknown;
  tensors: { file: string; bytes: number; sha256: string; entries: Entry[] };
}

function dtypeOf(a: ArrayBufferView): Dtype {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Float64Array) return 'float64';
  throw new StreamsError('STREAMS_INTERNAL', `[streams/cl] cannot save a ${a.constructor.name}`);
}

async function writeDurable(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes a checkpoint into `dir` atomically: the arrays go to a new `tensors-<id>.bin`, then the
 * manifest replaces `checkpoint.json` by rename (the commit point), then older tensor files go.
 * A crash at any point leaves the previous checkpoint or the new one, never a mix.
 */
export async function writeCheckpoint(
  dir: string,
  content: { state: unknown; arrays: StateArrays; callerData?: unknown; backend: string },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries: Entry[] = [];
  let offset = 0;
  for (const [name, a] of Object.entries(content.arrays)) {
    offset = Math.ceil(offset / 8) * 8; // aligned for every dtype
    entries.push({ name, dtype: dtypeOf(a), offset, length: a.length });
    offset += a.byteLength;
  }
  const blob = new Uint8Array(offset);
  Object.values(content.arrays).forEach((a, i) => {
    blob.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), entries[i]!.offset);
  });
  const file = `tensors-${randomUUID()}.bin`;
  await writeDurable(join(dir, `${file}.tmp`), blob);
  await rename(join(dir, `${file}.tmp`), join(dir, file));
  const manifest: CheckpointManifest = {
    format: FORMAT,
    version: VERSION,
    createdAt: new Date().toISOString(),
    backend: content.backend,
    state: content.state,
    callerData: content.callerData ?? null,
    tensors: {
      file,
      bytes: blob.byteLength,
      sha256: createHash('sha256').update(blob).digest('hex'),
      entries,
    },
  };
  const tmp = join(dir, `${MANIFEST}.${randomUUID()}.tmp`);
  await writeDurable(tmp, `${JSON.stringify(manifest)}\n`);
  await rename(tmp, join(dir, MANIFEST));
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
  for (const name of await readdir(dir)) {
    if (
      (name.startsWith('tensors-') && name !== file) ||
      (name.startsWith(`${MANIFEST}.`) && name.endsWith('.tmp'))
    ) {
      await rm(join(dir, name), { force: true });
    }
  }
}

/** Reads and verifies a checkpoint written by {@link writeCheckpoint}. */
export async function readCheckpoint(
  dir: string,
): Promise<{ manifest: CheckpointManifest; arrays: StateArrays }> {
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8'));
  } catch (err) {
    throw new StreamsError(
      'STREAMS_STATE_INVALID',
      `[streams/cl] no readable checkpoint in ${dir}`,
      {
        cause: err,
        fix: 'point at a directory written by learner.save()',
      },
    );
  }
  if (manifest?.format !== FORMAT || manifest.version !== VERSION) {
    throw new StreamsError(
      'STREAMS_STATE_INVALID',
      `[streams/cl] ${join(dir, MANIFEST)} is not a version ${VERSION} learner checkpoint`,
      {
        fix: 'save it again with this version of @streams/cl',
      },
    );
  }
  const bytes = await readFile(join(dir, manifest.tensors.file)).catch((err) => {
    throw new StreamsError(
      'STREAMS_STATE_INVALID',
      `[streams/cl] checkpoint tensors ${manifest.tensors.file} are missing in ${dir}`,
      { cause: err },
    );
  });
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (bytes.byteLength !== manifest.tensors.bytes || digest !== manifest.tensors.sha256) {
    throw new StreamsError(
      'STREAMS_STATE_INVALID',
      `[streams/cl] checkpoint tensors in ${dir} fail their size or sha256 check`,
      {
        fix: 'restore the checkpoint from a copy or start from an earlier one',
      },
    );
  }
  const arrays: StateArrays = {};
  for (const e of manifest.tensors.entries) {
    const Ctor =
      e.dtype === 'float32' ? Float32Array : e.dtype === 'int32' ? Int32Array : Float64Array;
    const copy = bytes.buffer.slice(
      bytes.byteOffset + e.offset,
      bytes.byteOffset + e.offset + e.length * Ctor.BYTES_PER_ELEMENT,
    );
    arrays[e.name] = new Ctor(copy);
  }
  return { manifest, arrays };
}
