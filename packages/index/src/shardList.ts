import { StreamsError } from '@streams/core';
import type { ByteSource } from './byteSource.js';
import { basenameUrl, checkNamedUrl, dirnameUrl, joinUrl } from './urls.js';

/** Expands `shard-{000..009}.tar` (zero padding kept) and `{a,b}` alternatives, as WebDataset does. */
export function expandBraces(pattern: string): string[] {
  const m = /\{([^{}]*)\}/.exec(pattern);
  if (!m) return [pattern];
  const head = pattern.slice(0, m.index);
  const tail = pattern.slice(m.index + m[0].length);
  const body = m[1] ?? '';
  const range = /^(\d+)\.\.(\d+)$/.exec(body);
  let items: string[];
  if (range) {
    const [a = '', b = ''] = [range[1], range[2]];
    const lo = Number(a);
    const hi = Number(b);
    if (hi < lo || hi - lo > 1_000_000)
      throw new StreamsError('STREAMS_INVALID_URL', `[streams/index] bad brace range {${body}}`, {
        fix: 'write ranges as {000..099} with the low end first',
      });
    const width = a.length;
    items = [];
    for (let i = lo; i <= hi; i++) items.push(String(i).padStart(width, '0'));
  } else {
    items = body.split(',');
  }
  return items.flatMap((x) => expandBraces(`${head}${x}${tail}`));
}

/** Shell-style wildcard (`*`, `?`) to a RegExp matching one path segment. */
export function globToRegExp(glob: string): RegExp {
  const re = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`);
}

/**
 * Resolves a shard spec into URLs: a brace pattern, a wildcard in the last segment, a directory
 * (its files whose names match `accept`), a list file (`.txt`/`.list`/`.shards`: one path or URL a
 * line, relative ones resolved against the list's location; a remote list may name local files
 * only under the `allowUrls` prefixes) or a single file.
 */
export async function resolveShardUrls(
  spec: string,
  source: ByteSource,
  accept: RegExp,
  signal?: AbortSignal,
  allowUrls?: readonly string[],
): Promise<string[]> {
  if (/\{[^{}]*\}/.test(spec)) return expandBraces(spec);
  const name = basenameUrl(spec);
  if (name.includes('*') || name.includes('?')) {
    const re = globToRegExp(name);
    const dir = dirnameUrl(spec);
    const all = await source.list(dir, { signal });
    const hits = all.filter((u) => re.test(basenameUrl(u)));
    if (hits.length === 0)
      throw new StreamsError('STREAMS_NOT_FOUND', `[streams/index] no file matches ${spec}`, {
        url: spec,
        fix: 'check the pattern and the directory',
      });
    return hits;
  }
  if (/\.(txt|list|shards)$/i.test(name)) {
    const text = new TextDecoder().decode(await source.read(spec, { signal }));
    const base = dirnameUrl(spec);
    return text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l, k) => {
        const url = joinUrl(base, l);
        checkNamedUrl(url, spec, allowUrls, `entry ${k + 1} `);
        return url;
      });
  }
  if (accept.test(name)) return [spec];
  const listed = await source.list(spec, { signal });
  const hits = listed.filter((u) => accept.test(basenameUrl(u)));
  if (hits.length === 0)
    throw new StreamsError('STREAMS_NOT_FOUND', `[streams/index] ${spec} holds no shard files`, {
      url: spec,
      fix: `point at a file or a directory of files matching ${accept}`,
    });
  return hits;
}
