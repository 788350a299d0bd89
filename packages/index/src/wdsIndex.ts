// Where the members of each WebDataset sample are in a tar, kept in a few flat arrays rather than
// an object per sample and per member: a loaded tar holds one key string per sample and numbers,
// so loading thousands of small samples leaves little for the garbage collector to trace, and a
// sample's members are views made when it is decoded.
import { StreamsError } from '@streams/core';
import { setField } from './sampleJson.js';
import type { TarMember } from './tarReader.js';
import {
  type WdsSample,
  type WebDatasetOptions,
  wdsMemberValue,
  wdsSplitKey,
} from './webDataset.js';

/** The samples of a tar: each one's key and its members' extensions and places in the archive. */
export class WdsTarIndex {
  /** Sample keys, in archive order. */
  readonly keys: string[] = [];
  /** Extensions by id (the few a dataset uses, each string kept once). */
  readonly extNames: string[] = [];
  #extIds = new Map<string, number>();
  /** Member m belongs to sample s when firsts[s] <= m < firsts[s + 1]. */
  #firsts = new Uint32Array(64); // [samples + 1]
  #ext = new Uint16Array(64); // [members] extension id
  #offset = new Float64Array(64); // [members] where its bytes start in the archive
  #size = new Float64Array(64); // [members]
  #members = 0;

  /** `archiveBytes`: the size of the (uncompressed) archive the places are in. */
  constructor(readonly archiveBytes: number) {}

  get samples(): number {
    return this.keys.length;
  }

  get members(): number {
    return this.#members;
  }

  /** Bytes the index takes in memory, roughly (what a bound on kept indexes counts). */
  get memoryBytes(): number {
    let keys = 0;
    for (const k of this.keys) keys += 16 + k.length;
    return keys + this.#firsts.byteLength + 18 * this.#offset.length;
  }

  /** Member m's place in the archive. */
  offsetOf(m: number): number {
    return this.#offset[m] as number;
  }

  /** The first member of sample j: its members are `firstOf(j)` up to `firstOf(j + 1)`. */
  firstOf(j: number): number {
    return this.#firsts[j] as number;
  }

  /** Member m's extension (lower-cased, as WebDataset keys it). */
  extOf(m: number): string {
    return this.extNames[this.#ext[m] as number] as string;
  }

  /** Member m's size in bytes. */
  sizeOf(m: number): number {
    return this.#size[m] as number;
  }

  /** Sample j: `{ __key__, __url__, <ext>: value }` from the archive's bytes, as `wdsSampleOf` makes it. */
  sample(j: number, bytes: Uint8Array, url: string, options: WebDatasetOptions): WdsSample {
    const key = this.keys[j] as string;
    const sample: WdsSample = { __key__: key, __url__: url };
    const end = this.#firsts[j + 1] as number;
    for (let m = this.#firsts[j] as number; m < end; m++) {
      const ext = this.extNames[this.#ext[m] as number] as string;
      const at = this.#offset[m] as number;
      const data = bytes.subarray(at, at + (this.#size[m] as number));
      setField(sample, ext, wdsMemberValue(ext, data, url, key, options));
    }
    return sample;
  }

  /** Sample j with each member's bytes got from `read(offset, size)` (a tar not in memory). */
  sampleRead(
    j: number,
    read: (offset: number, size: number) => Uint8Array,
    url: string,
    options: WebDatasetOptions,
  ): WdsSample {
    const key = this.keys[j] as string;
    const sample: WdsSample = { __key__: key, __url__: url };
    const end = this.#firsts[j + 1] as number;
    for (let m = this.#firsts[j] as number; m < end; m++) {
      const ext = this.extNames[this.#ext[m] as number] as string;
      const data = read(this.#offset[m] as number, this.#size[m] as number);
      setField(sample, ext, wdsMemberValue(ext, data, url, key, options));
    }
    return sample;
  }

  /** True when samples i and j have the same extensions in the same order. */
  sameShape(i: number, j: number): boolean {
    const a = this.#firsts[i] as number;
    const b = this.#firsts[j] as number;
    const n = (this.#firsts[i + 1] as number) - a;
    if ((this.#firsts[j + 1] as number) - b !== n) return false;
    for (let k = 0; k < n; k++) if (this.#ext[a + k] !== this.#ext[b + k]) return false;
    return true;
  }

  /** Sample j's extensions, joined by `/`. */
  shapeOf(j: number): string {
    const exts: string[] = [];
    for (let m = this.#firsts[j] as number; m < (this.#firsts[j + 1] as number); m++)
      exts.push(this.extNames[this.#ext[m] as number] as string);
    return exts.join('/');
  }

  /** Adds a member of sample `key` (a new sample when the key changes). */
  add(key: string, ext: string, offset: number, size: number, url: string): void {
    const m = this.#members;
    let s = this.keys.length;
    if (s === 0 || this.keys[s - 1] !== key) {
      this.keys.push(key);
      s++;
      if (s + 1 > this.#firsts.length) this.#firsts = grow(this.#firsts, s + 1);
      this.#firsts[s - 1] = m;
    } else {
      for (let i = this.#firsts[s - 1] as number; i < m; i++)
        if (this.extNames[this.#ext[i] as number] === ext)
          throw new StreamsError(
            'STREAMS_SHARD_CORRUPT',
            `[streams/index] sample "${key}" has two "${ext}" members`,
            { url, fix: 'each sample key may hold one file per extension' },
          );
    }
    let id = this.#extIds.get(ext);
    if (id === undefined) {
      id = this.extNames.length;
      if (id > 0xffff)
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] more than 65536 member extensions in one tar`,
          { url, fix: 'give the members of a tar a few extensions, as WebDataset expects' },
        );
      this.extNames.push(ext);
      this.#extIds.set(ext, id);
    }
    if (m === this.#ext.length) {
      this.#ext = grow(this.#ext, m + 1);
      this.#offset = grow(this.#offset, m + 1);
      this.#size = grow(this.#size, m + 1);
    }
    this.#ext[m] = id;
    this.#offset[m] = offset;
    this.#size[m] = size;
    this.#members = m + 1;
    this.#firsts[s] = m + 1;
  }
}

function grow<T extends Uint32Array | Uint16Array | Float64Array>(a: T, need: number): T {
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}

/**
 * The index of a tar's members located in its archive (`at` set, as {@link locateTarMembers}
 * gives them), grouped into samples the way {@link WdsGrouper} groups them: by key in archive
 * order, members whose key starts with `__` or that have no extension skipped, two members of one
 * extension in a sample `STREAMS_SHARD_CORRUPT`.
 */
export function indexTarMembers(
  members: Iterable<TarMember>,
  url: string,
  archiveBytes: number,
): WdsTarIndex {
  const index = new WdsTarIndex(archiveBytes);
  for (const m of members) {
    const { key, ext } = wdsSplitKey(m.name);
    if (key.startsWith('__') || ext === '') continue; // WebDataset skips such members
    const at = m.at as { offset: number; size: number };
    index.add(key, ext, at.offset, at.size, url);
  }
  return index;
}
