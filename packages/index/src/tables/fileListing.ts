// Index tables made from file names: list files (one path or URL a line -> `__key__`, `url`) and
// directory scans (files grouped by basename: `000123.jpg` + `000123.cls` -> one row). Both are
// read whole at open and kept in memory.
import { join } from 'node:path';
import { StreamsError } from '@streams/core';
import { Utf8 } from 'apache-arrow';
import type { ByteSource } from '../byteSource.js';
import { setField } from '../sampleJson.js';
import { basenameUrl, isRemoteUrl, toLocalPath } from '../urls.js';
import { memoryPart, type PartOptions, type TablePart } from './tablePart.js';

/** Opens a list file: one path or URL a line (`#` comments and blank lines skipped). */
export async function listPart(url: string, options: PartOptions): Promise<TablePart> {
  const text = new TextDecoder().decode(await options.source.read(url, { signal: options.signal }));
  const rows = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ __key__: keyOf(l), url: l }));
  return memoryPart(url, rows, options.chunkRows);
}

function keyOf(path: string): string {
  const name = basenameUrl(path);
  const dot = name.indexOf('.');
  return dot === -1 ? name : name.slice(0, dot);
}

/** Scans a directory (recursively) and groups its files into one row per key: `a/0001.jpg` + `a/0001.cls`. */
export async function dirPart(url: string, options: PartOptions): Promise<TablePart> {
  const files = await walk(url, options.source, options.signal);
  const prefix = (url.startsWith('file:') ? toLocalPath(url) : url).replace(/\/+$/, '');
  const groups = new Map<string, Record<string, unknown>>();
  const exts = new Set<string>();
  for (const f of files) {
    const rel = f.slice(prefix.length + 1);
    const slash = rel.lastIndexOf('/');
    const dot = rel.indexOf('.', slash + 1);
    if (dot === -1 || rel.slice(slash + 1).startsWith('.')) continue;
    const key = rel.slice(0, dot);
    const ext = rel.slice(dot + 1).toLowerCase();
    exts.add(ext);
    let g = groups.get(key);
    if (!g) {
      g = { __key__: key };
      groups.set(key, g);
    }
    setField(g, ext, rel);
  }
  if (groups.size === 0)
    throw new StreamsError(
      'STREAMS_INDEX_INVALID',
      `[streams/index] ${url} holds no files to index`,
      {
        url,
        fix: 'point at a directory of sample files (e.g. 000001.jpg, 000001.cls)',
      },
    );
  return memoryPart(
    url,
    [...groups.values()],
    options.chunkRows,
    new Map([...exts].map((e) => [e, new Utf8()])),
  );
}

async function walk(url: string, source: ByteSource, signal?: AbortSignal): Promise<string[]> {
  const files = await source.walk(url, { signal });
  if (isRemoteUrl(url) || url.startsWith('file:')) return files;
  // Keep paths in the form the user gave (relative stays relative).
  const dir = toLocalPath(url);
  return files.map((p) => join(url, p.slice(dir.length)));
}
