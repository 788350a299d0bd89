// WebDataset shard indexes (wids): a JSON file listing a WebDataset's tars with their sample counts,
// so the dataset opens without reading a tar (a plain WebDataset is counted by reading every tar).
// The spec is webdataset's own (github.com/webdataset/webdataset, `wids/wids_specs.py`
// `resolve_dsdesc` and `wids/wids_index.py` `main_create`, which names the file `shardindex.json`):
//
//   { "__kind__": "wids-shard-index-v1", "wids_version": 1,
//     "shardlist": [{ "url": "shard-000000.tar", "nsamples": 10000, "filesize": 123456789 }, ...],
//     "name": "optional", "info": "optional" }
//
// A shard `url` is absolute or relative to the directory of the index (`ShardListDataset` rebases on
// `urldir(index url)`); `filesize` and `md5sum` are optional. Stricter than wids where wids would go
// wrong quietly: `__kind__` is required (it is how the file is told from a JSON index table or an
// MDS index.json), counts must be non-negative integers, a relative `url` may not leave the index's
// directory (`..`, as tar members may not leave the archive), and sub-`datasets` are refused.
import { isAbsolute } from 'node:path';
import { StreamsError } from '@streams/core';
import {
  basenameUrl,
  checkNamedUrl,
  dirnameUrl,
  isRemoteUrl,
  joinUrl,
  unsafeRelativePath,
} from '../urls.js';
import type { FormatUnit, ShardFormat } from './format.js';
import { wdsDatasetOf } from './wds.js';

/** The `__kind__` of a wids shard index. */
export const WIDS_KIND = 'wids-shard-index-v1';
/** The name wids tools give a shard index (`widsindex create`), and the one looked for in a directory. */
export const WIDS_INDEX_NAME = 'shardindex.json';

/** One shard of a wids shard index. */
export interface WidsShard {
  /** Absolute URL, or a path relative to the index's directory. */
  url: string;
  nsamples: number;
  /** Stored bytes of the tar. */
  filesize?: number;
  /** MD5 hex digest of the tar (written by `widsindex create`). */
  md5sum?: string;
}

/** A wids shard index (`wids-shard-index-v1`) as written next to the tars. */
export interface WidsIndex {
  __kind__: typeof WIDS_KIND;
  wids_version: 1;
  shardlist: WidsShard[];
  name?: string;
  info?: string;
}

const SCHEME = /^([a-z][a-z0-9+.-]*:\/\/|file:)/i;
/** Bytes read to tell a wids index from other JSON (`__kind__` comes first in what wids writes). */
const PROBE_BYTES = 64 * 1024;
const KIND_RE = /"__kind__"\s*:\s*"wids-shard-index-v1"/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(message: string, url: string, fix: string, cause?: unknown): StreamsError {
  return new StreamsError('STREAMS_INDEX_INVALID', `[streams/index] [wids] ${message}`, {
    url,
    cause,
    fix,
  });
}

const SPEC_FIX = `write a wids shard index: {"__kind__": "${WIDS_KIND}", "wids_version": 1, "shardlist": [{"url": "shard-000000.tar", "nsamples": N}]}`;

/**
 * The units of a wids shard index: every tar with its declared count and size, URLs resolved against
 * the index's directory. Every field is checked; nothing else is read.
 */
export function parseWidsIndex(
  bytes: Uint8Array,
  indexUrl: string,
  allowUrls?: readonly string[],
): FormatUnit[] {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw invalid(`${basenameUrl(indexUrl)} is not JSON`, indexUrl, SPEC_FIX, cause);
  }
  if (!isRecord(doc) || doc.__kind__ !== WIDS_KIND)
    throw invalid(
      `${basenameUrl(indexUrl)} is not a wids shard index: __kind__ is ${JSON.stringify(isRecord(doc) ? doc.__kind__ : undefined)}, not "${WIDS_KIND}"`,
      indexUrl,
      SPEC_FIX,
    );
  if (doc.wids_version !== 1)
    throw invalid(
      `wids_version is ${JSON.stringify(doc.wids_version)}; this reader knows version 1`,
      indexUrl,
      'write "wids_version": 1 (the only version wids defines)',
    );
  if (doc.datasets !== undefined)
    throw new StreamsError(
      'STREAMS_NOT_IMPLEMENTED',
      '[streams/index] [wids] sub-datasets ("datasets") of a shard index are not read',
      {
        url: indexUrl,
        fix: 'list the tars in "shardlist", or open each sub-dataset as its own stream',
      },
    );
  const list = doc.shardlist;
  if (!Array.isArray(list) || list.length === 0)
    throw invalid(
      Array.isArray(list) ? 'the shardlist is empty' : '"shardlist" is missing or not a list',
      indexUrl,
      'list at least one tar in "shardlist" as {"url": ..., "nsamples": ...}',
    );
  const base = dirnameUrl(indexUrl);
  return list.map((entry, k): FormatUnit => {
    const where = `shardlist[${k}]`;
    if (!isRecord(entry) || typeof entry.url !== 'string' || entry.url === '')
      throw invalid(`${where} needs a "url" string`, indexUrl, SPEC_FIX);
    const { nsamples, filesize, md5sum } = entry;
    if (typeof nsamples !== 'number' || !Number.isSafeInteger(nsamples) || nsamples < 0)
      throw invalid(
        `${where}.nsamples is ${JSON.stringify(nsamples)}, not a sample count`,
        indexUrl,
        `give each shard's number of samples as a non-negative integer (widsindex create counts them)`,
      );
    if (
      filesize !== undefined &&
      (typeof filesize !== 'number' || !Number.isSafeInteger(filesize) || filesize < 0)
    )
      throw invalid(
        `${where}.filesize is ${JSON.stringify(filesize)}, not a byte count`,
        indexUrl,
        'give the tar size in bytes as a non-negative integer, or leave "filesize" out',
      );
    const url = shardUrl(entry.url, base, indexUrl, allowUrls, where);
    return {
      name: basenameUrl(url),
      samples: nsamples,
      bytes: filesize,
      files: [
        {
          url,
          size: filesize,
          hashes: typeof md5sum === 'string' ? { md5: md5sum } : undefined,
        },
      ],
    };
  });
}

/**
 * A shard's URL: absolute ones as they are (a remote index may not name local files, see
 * `checkNamedUrl`); relative ones inside the index's directory, never out of it.
 */
function shardUrl(
  name: string,
  base: string,
  indexUrl: string,
  allowUrls: readonly string[] | undefined,
  where: string,
): string {
  const absolute = SCHEME.test(name) || (!isRemoteUrl(indexUrl) && isAbsolute(name));
  if (absolute) {
    checkNamedUrl(name, indexUrl, allowUrls, `${where} `);
    return name;
  }
  const unsafe = unsafeRelativePath(name);
  if (unsafe !== undefined)
    throw new StreamsError(
      'STREAMS_UNSAFE_PATH',
      `[streams/index] [wids] ${where}.url ${JSON.stringify(name)} ${unsafe}: it could leave the directory of the shard index`,
      {
        url: indexUrl,
        fix: 'name shards by paths inside the index directory, or by absolute URLs',
      },
    );
  return joinUrl(base, name);
}

/** The index file of a location: the `.json` itself, or `shardindex.json` inside a directory. */
function indexOf(url: string): string {
  return /\.json$/i.test(basenameUrl(url)) ? url : joinUrl(url, WIDS_INDEX_NAME);
}

/** A wids shard index: the WebDataset tars it lists, with their counts, opened without reading one. */
export const widsFormat: ShardFormat = {
  name: 'wids',
  validatesHashes: true,
  description: `a WebDataset shard index (wids ${WIDS_KIND} JSON, or a directory holding ${WIDS_INDEX_NAME}): its tars, counted by the index`,
  // Below a JSON index table's 0.5: a .json is read as wids only when its probe finds the kind.
  matchName: (url) => (/\.json$/i.test(basenameUrl(url)) ? 0.4 : 0),
  async probe(url, source, signal) {
    try {
      // A remote range past the end is an error, not a short read: ask within the size.
      const index = indexOf(url);
      const size = await source.size(index, { signal });
      const head = await source.readRange(index, 0, Math.min(size, PROBE_BYTES), { signal });
      return KIND_RE.test(new TextDecoder().decode(head));
    } catch {
      return false;
    }
  },
  async open(url, o) {
    const index = indexOf(url);
    const units = parseWidsIndex(
      await o.source.read(index, { signal: o.signal }),
      index,
      o.allowUrls,
    );
    return wdsDatasetOf(url, units, o, 'wids', basenameUrl(index));
  },
};
