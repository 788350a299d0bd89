// Random access into uncompressed MDS shards: each shard's offset table read by range once, checked
// against index.json and the file's size, and kept (a bounded number of them), so that reading one
// sample then costs one range read of its bytes.
import { StreamsError } from '@streams/core';
import type { ByteSource } from './byteSource.js';
import { checkOffsets } from './mdsShard.js';
import type { MdsShard } from './parseMdsIndex.js';
import { withWhere } from './withWhere.js';

/** The offset tables of one dataset's uncompressed shards, read by range. */
export class MdsOffsetTables {
  /** Offset tables of uncompressed shards read by range: the table once read, a promise before. */
  readonly #tables = new Map<number, Promise<Uint32Array> | Uint32Array>();
  /** The tables by shard index, for a synchronous look-up on the read path. */
  readonly tables: ReadonlyMap<number, Promise<Uint32Array> | Uint32Array> = this.#tables;

  constructor(readonly source: ByteSource) {}

  /** Offset table of an uncompressed shard stored at `fileUrl`, read by range and checked once. */
  async read(s: MdsShard, fileUrl: string, signal?: AbortSignal): Promise<Uint32Array> {
    const had = this.#tables.get(s.index);
    if (had) return had;
    const p = (async () => {
      const tableEnd = 4 + 4 * (s.samples + 1);
      const where = { shard: s.basename, url: fileUrl };
      if (tableEnd > s.rawBytes)
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] index.json says ${s.samples} samples, more than a ${s.rawBytes}-byte shard can hold`,
          { ...where, fix: 'index.json does not match the shard: rewrite the dataset' },
        );
      // One size check per shard catches truncation before any sample is served from it.
      const [size, head] = await Promise.all([
        this.source.size(fileUrl, { signal }),
        this.source.readRange(fileUrl, 0, tableEnd, { signal }),
      ]);
      if (size !== s.rawBytes)
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] shard file is ${size} bytes, index.json says ${s.rawBytes}`,
          {
            ...where,
            fix: 'the shard is truncated or index.json is stale: download or write it again',
          },
        );
      if (head.length < tableEnd)
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] shard is shorter than the offset table of its ${s.samples} samples`,
          {
            ...where,
            fix: 'the shard is truncated or index.json lies: download or write it again',
          },
        );
      const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
      const n = dv.getUint32(0, true);
      if (n !== s.samples)
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] shard header says ${n} samples, index.json says ${s.samples}`,
          { ...where, fix: 'index.json does not match the shard: rewrite the dataset' },
        );
      const offsets = new Uint32Array(n + 1);
      for (let i = 0; i <= n; i++) offsets[i] = dv.getUint32(4 + 4 * i, true);
      try {
        checkOffsets(offsets, tableEnd, s.rawBytes);
      } catch (e) {
        throw withWhere(e, where);
      }
      return offsets;
    })();
    this.#tables.set(s.index, p);
    // Once read, the table itself is kept: the synchronous read path looks it up without awaiting.
    p.then(
      (table) => {
        if (this.#tables.get(s.index) === p) this.#tables.set(s.index, table);
      },
      () => {
        if (this.#tables.get(s.index) === p) this.#tables.delete(s.index);
      },
    );
    // Offset tables are small; keep a bounded number of them.
    if (this.#tables.size > 256) {
      const oldest = this.#tables.keys().next().value as number;
      this.#tables.delete(oldest);
    }
    return p;
  }

  /** Drops the kept tables. */
  clear(): void {
    this.#tables.clear();
  }
}
