import { StreamsError } from '@streams/core';
import { type ByteSource, RoutingByteSource } from './byteSource.js';
import { decodeUtf8, gunzipChunks, type TextOptions } from './chunkReader.js';
import type { DatasetColumn, SampleDataset } from './dataset.js';
import { setField } from './sampleJson.js';
import { resolveShardUrls, sequentialSamples } from './shardList.js';
import { readTar } from './tarReader.js';

/** A WebDataset sample: `__key__`, `__url__`, and one entry per extension. */
export type WdsSample = Record<string, unknown> & { __key__: string; __url__: string };

/** Options of {@link readWebDataset} and {@link openWebDataset}. */
export interface WebDatasetOptions {
  signal?: AbortSignal;
  source?: ByteSource;
  /**
   * `auto` (default) decodes `json`/`jsn` as JSON, `txt`/`text` as strings and `cls`/`cls2`/`index`/`id`
   * as integers, and leaves everything else as bytes; `raw` leaves every member as bytes.
   */
  decode?: 'auto' | 'raw';
  /** Text members (`txt`, `json`, `cls`...) that are not UTF-8: `error` (default) or `replace`. */
  invalidUtf8?: TextOptions['invalidUtf8'];
  /** Local prefixes a remote list file may name (see `IndexTableOptions.allowUrls`). */
  allowUrls?: readonly string[];
}

/** Splits a member name into its sample key and extension the WebDataset way (first dot of the basename). */
export function wdsSplitKey(name: string): { key: string; ext: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot === -1) return { key: name, ext: '' };
  return { key: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

function decodeMember(
  ext: string,
  data: Uint8Array,
  where: { url: string; key: string },
  invalidUtf8: TextOptions['invalidUtf8'],
): unknown {
  const last = ext.split('.').pop() ?? ext;
  const text = () => decodeUtf8(data, invalidUtf8, `member "${where.key}.${ext}"`, where.url);
  try {
    if (last === 'json' || last === 'jsn') return JSON.parse(text());
    if (last === 'txt' || last === 'text') return text();
    if (last === 'cls' || last === 'cls2' || last === 'index' || last === 'inx' || last === 'id') {
      const t = text().trim();
      const n = Number(t);
      return /^[+-]?\d+$/.test(t) && Number.isSafeInteger(n) ? n : t;
    }
  } catch (cause) {
    if (cause instanceof StreamsError) throw cause;
    throw new StreamsError(
      'STREAMS_DECODE_FAILED',
      `[streams/index] member "${where.key}.${ext}" is not valid ${last}`,
      { cause, url: where.url, fix: 'fix the member or read with decode: "raw"' },
    );
  }
  return data;
}

/** Samples of one tar stream, grouped by key in archive order. */
export async function* wdsSamplesFromTar(
  chunks: AsyncIterable<Uint8Array>,
  url: string,
  options: WebDatasetOptions = {},
): AsyncGenerator<WdsSample> {
  const gz = /\.(tar\.gz|tgz)$/i.test(url);
  const stream = gz ? gunzipChunks(chunks, { url }) : chunks;
  let current: WdsSample | undefined;
  for await (const m of readTar(stream, { url, signal: options.signal })) {
    const { key, ext } = wdsSplitKey(m.name);
    if (key.startsWith('__') || ext === '') continue; // WebDataset skips such members
    if (current && current.__key__ !== key) {
      yield current;
      current = undefined;
    }
    current ??= { __key__: key, __url__: url };
    if (Object.hasOwn(current, ext))
      throw new StreamsError(
        'STREAMS_SHARD_CORRUPT',
        `[streams/index] sample "${key}" has two "${ext}" members`,
        { url, fix: 'each sample key may hold one file per extension' },
      );
    setField(
      current,
      ext,
      options.decode === 'raw'
        ? m.data
        : decodeMember(ext, m.data, { url, key }, options.invalidUtf8),
    );
  }
  if (current) yield current;
}

/** Opens WebDataset shards: a tar, a `.tar.gz`, a brace pattern, a wildcard, a directory or a list file. */
export async function openWebDataset(
  spec: string,
  options: WebDatasetOptions = {},
): Promise<SampleDataset> {
  const source = options.source ?? new RoutingByteSource();
  const owns = options.source === undefined;
  const urls = await resolveShardUrls(
    spec,
    source,
    /\.(tar|tar\.gz|tgz)$/i,
    options.signal,
    options.allowUrls,
  );
  const close = async () => {
    if (owns) await source.close();
  };
  const columns: DatasetColumn[] = [];
  return {
    url: spec,
    format: 'wds',
    numSamples: undefined,
    numShards: urls.length,
    columns,
    totalBytes: undefined,
    async *samples(o = {}) {
      const signal = o.signal ?? options.signal;
      const read = (url: string) =>
        wdsSamplesFromTar(source.stream(url, { signal }), url, { ...options, signal });
      for await (const s of sequentialSamples(urls, o, signal, read)) {
        if (columns.length === 0)
          for (const k of Object.keys(s))
            columns.push({ name: k, type: k.startsWith('__') ? 'str' : 'bytes' });
        yield s;
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
