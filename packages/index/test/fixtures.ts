import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStreamsError } from '@streams/core';
import { MDS_REFERENCE_DIR } from '@streams/testkit';
import { expect } from 'vitest';

/** The MosaicML reference dataset, vendored in the test kit. */
export const MDS_REFERENCE = MDS_REFERENCE_DIR;

/** A temp directory removed by the returned cleanup. */
export async function tempDir(
  prefix = 'streams-index-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface ReferenceExpected {
  columns: Record<string, string>;
  n: number;
  samples: Record<string, unknown>[];
}

/** A tar member for {@link makeTar}: `type` is the ustar typeflag ('0' file, '5' dir, '2' symlink...). */
export interface TarEntry {
  name: string;
  data?: Uint8Array | string;
  type?: string;
  linkname?: string;
}

/** Builds a ustar archive by hand, so tests can make members real tar tools refuse to write. */
export function makeTar(entries: TarEntry[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const e of entries) {
    const data = typeof e.data === 'string' ? enc.encode(e.data) : (e.data ?? new Uint8Array(0));
    const h = new Uint8Array(512);
    const put = (s: string, off: number, len: number) => h.set(enc.encode(s).subarray(0, len), off);
    put(e.name, 0, 100);
    put('0000644\0', 100, 8);
    put('0000000\0', 108, 8);
    put('0000000\0', 116, 8);
    put(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 12);
    put('00000000000\0', 136, 12);
    put(e.type ?? '0', 156, 1);
    if (e.linkname) put(e.linkname, 157, 100);
    put('ustar\0', 257, 6);
    put('00', 263, 2);
    h.fill(32, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
    blocks.push(h, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  const total = blocks.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const b of blocks) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

/** One chunk as an async iterable. */
export async function* chunksOf(
  bytes: Uint8Array,
  size = bytes.length || 1,
): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** Every item of an async iterable. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** The StreamsError `p` rejects with (the test fails if it resolves or rejects with anything else). */
export async function error(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(isStreamsError(e), String(e)).toBe(true);
    return e as { code: string; message: string };
  }
  throw new Error('nothing thrown');
}
