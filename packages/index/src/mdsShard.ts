import { StreamsError } from '@streams/core';
import { type DecodeHook, type MdsCoder, mdsCoder } from './mdsEncodings.js';

/** One MDS column as index.json describes it. */
export interface MdsColumn {
  name: string;
  encoding: string;
  /** Fixed size in bytes, or null for variable-size columns. */
  size: number | null;
}

/** A decoded sample: column name -> value. */
export type MdsSample = Record<string, unknown>;

type CompiledDecoder = (
  buf: Uint8Array,
  begin: number,
  end: number,
  dv: DataView,
  coders: (MdsCoder | undefined)[],
  hooks: (DecodeHook | undefined)[],
  fail: (what: number, k: number, len: number) => never,
) => MdsSample;

/** Options of {@link MdsSchema}. */
export interface MdsSchemaOptions {
  /** Decode only these columns (others are skipped, so a `pkl` column can be left out). */
  columns?: readonly string[];
  /** Post-process decoded values per column name or per encoding name (`jpeg`, `png`, `pil`...). */
  decoders?: Record<string, DecodeHook>;
}

/**
 * The columns of an MDS shard, compiled for fast decoding. Build it once per dataset and reuse it
 * for every sample.
 */
export class MdsSchema {
  readonly columns: readonly MdsColumn[];
  readonly #coders: (MdsCoder | undefined)[];
  readonly #hooks: (DecodeHook | undefined)[];
  readonly #numVariable: number;

  constructor(columns: readonly MdsColumn[], options: MdsSchemaOptions = {}) {
    this.columns = columns;
    const wanted = options.columns ? new Set(options.columns) : undefined;
    if (wanted) {
      for (const name of wanted) {
        if (!columns.some((c) => c.name === name))
          throw new StreamsError(
            'STREAMS_INVALID_CONFIG',
            `[streams/index] column "${name}" is not in the dataset`,
            { fix: `choose among ${columns.map((c) => c.name).join(', ')}` },
          );
      }
    }
    this.#coders = columns.map((c) => {
      if (wanted && !wanted.has(c.name)) return undefined;
      const coder = mdsCoder(c.encoding, c.name);
      if ((coder.size ?? null) !== (c.size ?? null))
        throw new StreamsError(
          'STREAMS_SHARD_CORRUPT',
          `[streams/index] column "${c.name}" (${c.encoding}) has column_size ${c.size} but the encoding implies ${coder.size}`,
          { fix: 'fix column_sizes in index.json or rewrite the dataset' },
        );
      return coder;
    });
    const encodingName = (e: string) => e.split(':')[0] ?? e;
    this.#hooks = columns.map(
      (c) => options.decoders?.[c.name] ?? options.decoders?.[encodingName(c.encoding)],
    );
    this.#numVariable = columns.filter((c) => c.size === null).length;
  }

  /** Decodes the sample stored in `buf[begin, end)`. */
  decode(buf: Uint8Array, begin: number, end: number, dv?: DataView): MdsSample {
    const view = dv ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#compiled ??= this.#compile();
    return this.#compiled(buf, begin, end, view, this.#coders, this.#hooks, this.#fail);
  }

  #compiled: CompiledDecoder | undefined;

  readonly #fail = (what: number, k: number, len: number): never => {
    if (what === 0) throw corrupt(`sample is shorter than its ${this.#numVariable} size fields`);
    if (what === 1) {
      const col = this.columns[k] as MdsColumn;
      throw corrupt(`column "${col.name}" (${len} bytes) runs past the end of the sample`);
    }
    throw corrupt(`sample has ${len} bytes after its last column: offsets are wrong`);
  };

  /**
   * Specializes decoding to this column list: straight-line code and an object literal of fixed
   * shape (one hidden class) make small samples several times cheaper than a generic loop.
   * Only column names enter the source, as JSON string literals.
   */
  #compile(): CompiledDecoder {
    const lines = [
      'let head = begin;',
      `let pos = begin + ${this.#numVariable * 4};`,
      'if (pos > end) fail(0, 0, 0);',
      'let len = 0;',
    ];
    const fields: string[] = [];
    this.columns.forEach((col, k) => {
      lines.push(
        col.size === null ? 'len = dv.getUint32(head, true); head += 4;' : `len = ${col.size};`,
      );
      lines.push(`if (pos + len > end) fail(1, ${k}, len);`);
      const coder = this.#coders[k];
      if (coder) {
        const raw =
          coder.encoding === 'bytes'
            ? 'buf.subarray(pos, pos + len)'
            : `coders[${k}].decode(buf, pos, len, dv)`;
        const name = JSON.stringify(col.name);
        lines.push(`const v${k} = hooks[${k}] ? hooks[${k}](${raw}, ${name}) : ${raw};`);
        // A quoted "__proto__" key in a literal sets the prototype; a computed one is a field.
        fields.push(col.name === '__proto__' ? `[${name}]: v${k}` : `${name}: v${k}`);
      }
      lines.push('pos += len;');
    });
    lines.push('if (pos !== end) fail(2, 0, end - pos);', `return { ${fields.join(', ')} };`);
    return new Function(
      'buf',
      'begin',
      'end',
      'dv',
      'coders',
      'hooks',
      'fail',
      lines.join('\n'),
    ) as CompiledDecoder;
  }

  /** Encodes a sample as MosaicML's MDSWriter does: uint32 sizes of variable columns, then data. */
  encode(sample: MdsSample): Uint8Array {
    const parts: Uint8Array[] = [];
    const sizes: number[] = [];
    for (let k = 0; k < this.columns.length; k++) {
      const col = this.columns[k] as MdsColumn;
      const coder = this.#coders[k];
      if (!coder)
        throw new StreamsError('STREAMS_INTERNAL', '[streams/index] encode with a column subset');
      if (!(col.name in sample))
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/index] sample has no value for column "${col.name}"`,
          { fix: `give every sample all columns: ${this.columns.map((c) => c.name).join(', ')}` },
        );
      const datum = coder.encode(sample[col.name]);
      if (col.size === null) sizes.push(datum.length);
      else if (datum.length !== col.size)
        throw new StreamsError(
          'STREAMS_INVALID_ARGUMENT',
          `[streams/index] column "${col.name}" (${col.encoding}) encodes to ${datum.length} bytes, expected ${col.size}`,
          { fix: `check the value of column "${col.name}" against its encoding` },
        );
      parts.push(datum);
    }
    const total = sizes.length * 4 + parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < sizes.length; i++) dv.setUint32(i * 4, sizes[i] ?? 0, true);
    let pos = sizes.length * 4;
    for (const p of parts) {
      out.set(p, pos);
      pos += p.length;
    }
    return out;
  }
}

function corrupt(message: string): StreamsError {
  return new StreamsError('STREAMS_SHARD_CORRUPT', `[streams/index] ${message}`, {
    fix: 'the shard is damaged or does not match index.json; download or write it again',
  });
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Number of samples an MDS shard's header declares. */
export function mdsShardSampleCount(shard: Uint8Array): number {
  if (shard.length < 8) throw corrupt(`shard is ${shard.length} bytes, too short for a header`);
  return new DataView(shard.buffer, shard.byteOffset, shard.byteLength).getUint32(0, true);
}

/**
 * Checks an MDS shard's header and offset table: sample count, offsets ascending, inside the file.
 * Returns the offset table (n + 1 entries; a view into `shard` when aligned).
 */
export function mdsShardOffsets(shard: Uint8Array, expectedSamples?: number): Uint32Array {
  const n = mdsShardSampleCount(shard);
  if (expectedSamples !== undefined && n !== expectedSamples)
    throw corrupt(`shard header says ${n} samples, index.json says ${expectedSamples}`);
  const tableEnd = 4 + 4 * (n + 1);
  if (tableEnd > shard.length)
    throw corrupt(
      `offset table of ${n} samples runs past the end of the ${shard.length}-byte shard`,
    );
  let offsets: Uint32Array;
  if (LITTLE_ENDIAN && (shard.byteOffset + 4) % 4 === 0) {
    // Aligned on a little-endian machine: the table is usable in place (a view, no copy).
    offsets = new Uint32Array(shard.buffer, shard.byteOffset + 4, n + 1);
  } else {
    const dv = new DataView(shard.buffer, shard.byteOffset, shard.byteLength);
    offsets = new Uint32Array(n + 1);
    for (let i = 0; i <= n; i++) offsets[i] = dv.getUint32(4 + 4 * i, true);
  }
  checkOffsets(offsets, tableEnd, shard.length);
  return offsets;
}

/** Validates an offset table against the header end and the shard size. */
export function checkOffsets(offsets: Uint32Array, tableEnd: number, shardSize: number): void {
  const first = offsets[0] ?? 0;
  if (first < tableEnd) throw corrupt(`first sample offset ${first} overlaps the offset table`);
  for (let i = 1; i < offsets.length; i++) {
    if ((offsets[i] ?? 0) < (offsets[i - 1] ?? 0))
      throw corrupt(`offsets are not ascending at sample ${i - 1}`);
  }
  const last = offsets[offsets.length - 1] ?? 0;
  if (last !== shardSize)
    throw corrupt(`last offset ${last} does not match the shard size ${shardSize}`);
}

/** Decodes sample `j` of a whole (decompressed) MDS shard. */
export function decodeMdsSample(
  shard: Uint8Array,
  j: number,
  schema: MdsSchema | readonly MdsColumn[],
): MdsSample {
  const s = schema instanceof MdsSchema ? schema : new MdsSchema(schema);
  const dv = new DataView(shard.buffer, shard.byteOffset, shard.byteLength);
  if (shard.length < 8) throw corrupt(`shard is ${shard.length} bytes, too short for a header`);
  const n = dv.getUint32(0, true);
  if (!Number.isInteger(j) || j < 0 || j >= n)
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/index] sample ${j} is outside the shard's ${n} samples`,
      { fix: `ask for a sample in [0, ${n})` },
    );
  const tableEnd = 4 + 4 * (n + 1);
  if (tableEnd > shard.length) throw corrupt(`offset table runs past the end of the shard`);
  const begin = dv.getUint32(4 + 4 * j, true);
  const end = dv.getUint32(8 + 4 * j, true);
  if (begin < tableEnd || end < begin || end > shard.length)
    throw corrupt(`sample ${j} has offsets [${begin}, ${end}) outside the shard`);
  return s.decode(shard, begin, end, dv);
}

/**
 * Builds a joint MDS shard: uint32 sample count, (n + 1) uint32 offsets, the JSON config,
 * then the samples, exactly as MosaicML's `encode_joint_shard`.
 */
export function encodeMdsShard(samples: readonly Uint8Array[], config: Uint8Array): Uint8Array {
  const n = samples.length;
  const headerSize = 4 + 4 * (n + 1) + config.length;
  let total = headerSize;
  for (const s of samples) total += s.length;
  if (total > 0xffffffff)
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/index] an MDS shard cannot exceed 4 GiB (uint32 offsets); this one would be ${total} bytes`,
      { fix: 'lower sizeLimit' },
    );
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n, true);
  let off = headerSize;
  for (let i = 0; i < n; i++) {
    dv.setUint32(4 + 4 * i, off, true);
    off += (samples[i] as Uint8Array).length;
  }
  dv.setUint32(4 + 4 * n, off, true);
  out.set(config, 4 + 4 * (n + 1));
  let pos = headerSize;
  for (const s of samples) {
    out.set(s, pos);
    pos += s.length;
  }
  return out;
}
