// The registry of shard formats (as MosaicML's `_readers` maps a name to a reader): the built-ins
// are registered here, others with `registerFormat`. Detection asks the formats, by name first,
// then by probing the location.
import { StreamsError } from '@streams/core';
import type { ByteSource } from '../byteSource.js';
import { expandBraces } from '../shardList.js';
import { basenameUrl, isRemoteUrl } from '../urls.js';
import { csvFormat } from './csv.js';
import type { DatasetFormat, ShardFormat } from './format.js';
import { jsonlFormat } from './jsonl.js';
import { mdsFormat } from './mds.js';
import { tableFormat } from './table.js';
import { wdsFormat } from './wds.js';
import { widsFormat } from './wids.js';

const formats = new Map<string, ShardFormat>();
for (const f of [mdsFormat, wdsFormat, jsonlFormat, csvFormat, tableFormat, widsFormat])
  formats.set(f.name, f);

/** What a location is read as when nothing else claims it: an index table (a directory is scanned). */
const FALLBACK = 'table';

/**
 * Adds a shard format (or replaces the one of the same name). `openDataset`, `streams cat/inspect/
 * convert` and `StreamingDataset` then read it; returns a function that removes it again.
 */
export function registerFormat(format: ShardFormat): () => void {
  const previous = formats.get(format.name);
  formats.set(format.name, format);
  return () => {
    if (formats.get(format.name) !== format) return;
    if (previous) formats.set(format.name, previous);
    else formats.delete(format.name);
  };
}

/** Every registered format, built-ins first. */
export function listFormats(): readonly ShardFormat[] {
  return [...formats.values()];
}

/** The format registered under `name`; an unknown name is `STREAMS_INVALID_CONFIG` listing the others. */
export function getFormat(name: DatasetFormat): ShardFormat {
  const f = formats.get(name);
  if (!f)
    throw new StreamsError('STREAMS_INVALID_CONFIG', `[streams/index] unknown format "${name}"`, {
      fix: `use one of ${[...formats.keys()].join(', ')}`,
    });
  return f;
}

/** One line per format: what `--format` accepts and what each reads. */
export function describeFormats(): string {
  return listFormats()
    .map((f) => `${f.name} (${f.description})`)
    .join('; ');
}

/** The formats claiming `url` by its name, most certain first (later registrations win ties). */
function byName(url: string): { format: ShardFormat; score: number }[] {
  // A brace pattern is named by its expansions: `shard-{000..009}.tar` is a tar.
  const name = /\{[^{}]*\}/.test(url) ? (expandBraces(url)[0] ?? url) : url;
  return [...formats.values()]
    .map((format, order) => ({ format, score: format.matchName?.(name) ?? 0, order }))
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score || b.order - a.order);
}

/**
 * Detects the format of a dataset location: a name one format is sure of; else the formats that
 * claim the name probe it; a list file (`.txt`/`.list`/`.shards`) takes the format of its
 * entries; then formats probe the location (an index.json inside is MDS, a wids shardindex.json
 * is a WebDataset counted by it); a directory of files of
 * one format is that format; anything else is an index table (directories are scanned).
 */
export async function detectFormat(
  url: string,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<DatasetFormat> {
  const named = byName(url);
  const best = named[0];
  if (best && best.score >= 1) return best.format.name;
  for (const { format } of named)
    if (format.probe && (await format.probe(url, source, signal))) return format.name;
  if (best) return best.format.name;
  const name = basenameUrl(url).toLowerCase();
  if (/\.(txt|list|shards)$/.test(name)) {
    // A list file: its entries tell the format.
    const text = new TextDecoder().decode(await source.read(url, { signal }));
    const first = text.split(/\r?\n/).find((l) => l.trim() !== '' && !l.startsWith('#'));
    // Prose saved as .txt is no list: an entry is a URL, a path with a slash, or a file name.
    if (first !== undefined && !/^[a-z][a-z0-9+.-]*:|\/|\.[a-z0-9]{1,8}$/i.test(first.trim()))
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/index] ${url} is a text file whose first line names no file (${JSON.stringify(first.trim().slice(0, 40))}), so neither a dataset nor a list file of one`,
        { url, fix: `point at a dataset of a format read here: ${describeFormats()}` },
      );
    const entry = first === undefined ? undefined : byName(first.trim())[0];
    return entry && entry.score >= 1 ? entry.format.name : FALLBACK;
  }
  for (const format of formats.values())
    if (format.probe && (await format.probe(url, source, signal))) return format.name;
  // A local path that does not exist fails here with STREAMS_NOT_FOUND instead of later and vaguer.
  if (!isRemoteUrl(url)) await source.size(url, { signal });
  let entries: string[] | undefined;
  try {
    entries = await source.list(url, { signal });
  } catch {
    // not a directory
  }
  if (entries) {
    const found = new Set<string>();
    for (const e of entries) {
      const f = byName(e)[0];
      if (f && f.score >= 1 && f.format.name !== 'mds') found.add(f.format.name);
    }
    // A directory of shards of one format; otherwise a directory scanned into an index.
    const only = [...found][0];
    if (found.size === 1 && only !== undefined && only !== FALLBACK) return only;
  } else {
    // A file no format claims by name: one whose first bytes say it is media or an archive, or
    // with an extension nothing reads, is no dataset (a file without one may still be a table).
    const ext = /\.([a-z0-9]{1,8})$/i.exec(basenameUrl(url))?.[1];
    const kind =
      (await fileKind(url, source, signal)) ?? (ext ? `a .${ext.toLowerCase()} file` : undefined);
    if (kind)
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/index] ${url} is ${kind}, not a dataset`,
        {
          url,
          fix: `point at a dataset of a format read here: ${describeFormats()}`,
        },
      );
  }
  return FALLBACK;
}

/** What the first bytes of a file say it is (images, video, audio, archives, PDF), if one of those. */
const MAGIC: ReadonlyArray<[string, number, readonly number[]]> = [
  ['a PNG image', 0, [0x89, 0x50, 0x4e, 0x47]],
  ['a JPEG image', 0, [0xff, 0xd8, 0xff]],
  ['a GIF image', 0, [0x47, 0x49, 0x46, 0x38]],
  ['a WebP image or WAV audio (RIFF)', 0, [0x52, 0x49, 0x46, 0x46]],
  ['an MP4/QuickTime video', 4, [0x66, 0x74, 0x79, 0x70]],
  ['a Matroska/WebM video', 0, [0x1a, 0x45, 0xdf, 0xa3]],
  ['an MP3 audio file', 0, [0x49, 0x44, 0x33]],
  ['a FLAC audio file', 0, [0x66, 0x4c, 0x61, 0x43]],
  ['a PDF document', 0, [0x25, 0x50, 0x44, 0x46]],
  ['a ZIP archive', 0, [0x50, 0x4b, 0x03, 0x04]],
];

async function fileKind(
  url: string,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<string | undefined> {
  let head: Uint8Array;
  try {
    head = await source.readRange(url, 0, 16, { signal });
  } catch {
    return undefined;
  }
  const found = MAGIC.find(([, at, bytes]) => bytes.every((b, k) => head[at + k] === b));
  return found?.[0];
}
