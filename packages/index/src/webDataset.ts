import { decodeNpy, StreamsError } from '@streams/core';
import { decodeUtf8, gunzipChunks, type TextOptions } from './chunkReader.js';
import { setField } from './sampleJson.js';
import { readTar, type TarMember } from './tarReader.js';

/** A WebDataset sample: `__key__`, `__url__`, and one entry per extension. */
export type WdsSample = Record<string, unknown> & { __key__: string; __url__: string };

/** Options of the WebDataset readers. */
export interface WebDatasetOptions {
  signal?: AbortSignal;
  /**
   * `auto` (default) decodes `json`/`jsn` as JSON, `txt`/`text` as strings, `cls`/`cls2`/`index`/`id`
   * as integers and `npy` as `{ dtype, shape, data }` (as an MDS `ndarray` column decodes), and
   * leaves everything else as bytes; `raw` leaves every member as bytes.
   */
  decode?: 'auto' | 'raw';
  /** Text members (`txt`, `json`, `cls`...) that are not UTF-8: `error` (default) or `replace`. */
  invalidUtf8?: TextOptions['invalidUtf8'];
}

/** Splits a member name into its sample key and extension the WebDataset way (first dot of the basename). */
export function wdsSplitKey(name: string): { key: string; ext: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot === -1) return { key: name, ext: '' };
  return { key: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

/** Extensions decoded as text, and how (`json` parsed, `txt` kept, `cls` an integer where it is one). */
const TEXT_KINDS: Readonly<Record<string, 'json' | 'txt' | 'cls'>> = {
  json: 'json',
  jsn: 'json',
  txt: 'txt',
  text: 'txt',
  cls: 'cls',
  cls2: 'cls',
  index: 'cls',
  inx: 'cls',
  id: 'cls',
};

// No closure per member: one made per call (and under tsx, which keeps names, named with a
// defineProperty each time) took a tenth of the read of a 100-byte sample.
function decodeMember(
  ext: string,
  data: Uint8Array,
  url: string,
  key: string,
  invalidUtf8: TextOptions['invalidUtf8'],
): unknown {
  const dot = ext.lastIndexOf('.');
  const last = dot === -1 ? ext : ext.slice(dot + 1);
  if (last === 'npy') return decodeNpy(data, { what: `member "${key}.${ext}"`, url });
  const kind = Object.hasOwn(TEXT_KINDS, last) ? TEXT_KINDS[last] : undefined;
  if (kind === undefined) return data;
  try {
    const text = decodeUtf8(data, invalidUtf8, `member "${key}.${ext}"`, url);
    if (kind === 'json') return JSON.parse(text);
    if (kind === 'txt') return text;
    const t = text.trim();
    const n = Number(t);
    return /^[+-]?\d+$/.test(t) && Number.isSafeInteger(n) ? n : t;
  } catch (cause) {
    if (cause instanceof StreamsError) throw cause;
    throw new StreamsError(
      'STREAMS_DECODE_FAILED',
      `[streams/index] member "${key}.${ext}" is not valid ${last}`,
      { cause, url, fix: 'fix the member or read with decode: "raw"' },
    );
  }
}

/** The members of one sample of a tar: its key and `(extension, bytes)` in archive order. */
export interface WdsGroup {
  key: string;
  /** `at`: where the member's bytes are, when the tar was located rather than read. */
  members: { ext: string; data: Uint8Array; at?: { offset: number; size: number } }[];
}

/**
 * Groups tar members into samples by key (the path up to the first dot of the file name), in
 * archive order, as WebDataset does: members whose key starts with `__` or that have no
 * extension are skipped; a key holding two members of one extension is `STREAMS_SHARD_CORRUPT`.
 * `add` returns the sample a new key closes, `end` the last one.
 */
export class WdsGrouper {
  #current: WdsGroup | undefined;
  constructor(private readonly url: string) {}

  add(m: TarMember): WdsGroup | undefined {
    const { key, ext } = wdsSplitKey(m.name);
    if (key.startsWith('__') || ext === '') return undefined; // WebDataset skips such members
    let closed: WdsGroup | undefined;
    if (this.#current && this.#current.key !== key) {
      closed = this.#current;
      this.#current = undefined;
    }
    this.#current ??= { key, members: [] };
    const members = this.#current.members;
    let twice = false;
    for (let i = 0; i < members.length; i++)
      if ((members[i] as { ext: string }).ext === ext) twice = true;
    if (twice)
      throw new StreamsError(
        'STREAMS_SHARD_CORRUPT',
        `[streams/index] sample "${key}" has two "${ext}" members`,
        { url: this.url, fix: 'each sample key may hold one file per extension' },
      );
    members.push(m.at ? { ext, data: m.data, at: m.at } : { ext, data: m.data });
    return closed;
  }

  end(): WdsGroup | undefined {
    const last = this.#current;
    this.#current = undefined;
    return last;
  }
}

/** The samples ({@link WdsGrouper}) of a stream of tar members. */
export async function* wdsGroups(
  members: AsyncIterable<TarMember>,
  url: string,
): AsyncGenerator<WdsGroup> {
  const grouper = new WdsGrouper(url);
  for await (const m of members) {
    const closed = grouper.add(m);
    if (closed) yield closed;
  }
  const last = grouper.end();
  if (last) yield last;
}

/** The samples ({@link WdsGrouper}) of the members of a tar in memory. */
export function* wdsGroupsOf(members: Iterable<TarMember>, url: string): Generator<WdsGroup> {
  const grouper = new WdsGrouper(url);
  for (const m of members) {
    const closed = grouper.add(m);
    if (closed) yield closed;
  }
  const last = grouper.end();
  if (last) yield last;
}

/** The value of member `<key>.<ext>` of a sample: decoded by extension, or its bytes when `raw`. */
export function wdsMemberValue(
  ext: string,
  data: Uint8Array,
  url: string,
  key: string,
  options: WebDatasetOptions,
): unknown {
  return options.decode === 'raw' ? data : decodeMember(ext, data, url, key, options.invalidUtf8);
}

/** A sample of a group: `{ __key__, __url__, <ext>: value }`, members decoded by extension unless `raw`. */
export function wdsSampleOf(g: WdsGroup, url: string, options: WebDatasetOptions = {}): WdsSample {
  const sample: WdsSample = { __key__: g.key, __url__: url };
  for (const { ext, data } of g.members)
    setField(sample, ext, wdsMemberValue(ext, data, url, g.key, options));
  return sample;
}

/** True when a tar's name says it is gzipped (`.tar.gz`, `.tgz`). */
export function isGzippedTar(url: string): boolean {
  return /\.(tar\.gz|tgz)$/i.test(url);
}

/** The tar members of a stream of (possibly gzipped, by the URL's extension) tar bytes. */
export function tarMembers(
  chunks: AsyncIterable<Uint8Array>,
  url: string,
  signal?: AbortSignal,
): AsyncGenerator<TarMember> {
  return readTar(isGzippedTar(url) ? gunzipChunks(chunks, { url }) : chunks, { url, signal });
}

/** Samples of one tar stream, grouped by key in archive order. */
export async function* wdsSamplesFromTar(
  chunks: AsyncIterable<Uint8Array>,
  url: string,
  options: WebDatasetOptions = {},
): AsyncGenerator<WdsSample> {
  for await (const g of wdsGroups(tarMembers(chunks, url, options.signal), url))
    yield wdsSampleOf(g, url, options);
}
