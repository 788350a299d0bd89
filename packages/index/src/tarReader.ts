import { StreamsError, throwIfAborted } from '@streams/core';
import { ChunkReader } from './chunkReader.js';

/** One regular file of a tar archive. */
export interface TarMember {
  name: string;
  data: Uint8Array;
}

/** Options of {@link readTar}. */
export interface ReadTarOptions {
  /** Used in error messages. */
  url?: string;
  signal?: AbortSignal;
  /** Largest member accepted (default 4 GiB): a corrupt size field cannot make us buffer forever. */
  maxMemberBytes?: number;
  /** Bytes of the latest members kept to serve hard links to them (default 64 MiB). */
  maxLinkBytes?: number;
}

const BLOCK = 512;
const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

function corrupt(message: string, url?: string, cause?: unknown): StreamsError {
  return new StreamsError('STREAMS_SHARD_CORRUPT', `[streams/index] tar: ${message}`, {
    url,
    cause,
    fix: 'the archive is truncated or damaged: download or write it again',
  });
}

/** Rejects member names that would escape the archive's directory. */
export function checkMemberName(name: string, url?: string): void {
  const parts = name.split(/[/\\]/);
  if (
    name.startsWith('/') ||
    name.startsWith('\\') ||
    /^[a-zA-Z]:/.test(name) ||
    parts.includes('..')
  )
    throw new StreamsError(
      'STREAMS_UNSAFE_PATH',
      `[streams/index] tar member "${name}" escapes the archive (absolute path or "..")`,
      { url, fix: 'rebuild the archive with relative member names' },
    );
}

/** A member name as hard links name it: `./a/b` and `a/b` are one member. */
function linkKey(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

function cString(block: Uint8Array, start: number, len: number, dec = latin1): string {
  const field = block.subarray(start, start + len);
  const nul = field.indexOf(0);
  return dec.decode(nul === -1 ? field : field.subarray(0, nul));
}

function parseNumber(
  block: Uint8Array,
  start: number,
  len: number,
  what: string,
  url?: string,
): number {
  const field = block.subarray(start, start + len);
  if (((field[0] ?? 0) & 0x80) !== 0) {
    // GNU base-256: big-endian two's complement, first byte's top bit is the marker.
    if (((field[0] ?? 0) & 0x40) !== 0) throw corrupt(`negative ${what}`, url);
    let v = (field[0] ?? 0) & 0x3f;
    for (let i = 1; i < field.length; i++) {
      v = v * 256 + (field[i] ?? 0);
      if (!Number.isSafeInteger(v)) throw corrupt(`${what} is too large`, url);
    }
    return v;
  }
  const text = latin1.decode(field).replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw corrupt(`${what} field "${text}" is not octal`, url);
  return Number.parseInt(text, 8);
}

function parsePax(data: Uint8Array, url?: string): Record<string, string> {
  const out: Record<string, string> = {};
  const text = utf8.decode(data);
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(' ', i);
    if (sp === -1) break;
    const len = Number(text.slice(i, sp));
    if (!Number.isSafeInteger(len) || len <= 0) throw corrupt('bad pax record length', url);
    // pax lengths count bytes; the records we use (path, size) are ASCII in practice.
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq !== -1) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * Reads the regular files of a tar stream in order (ustar, pax and GNU long names), checking header
 * checksums and rejecting names that escape (`STREAMS_UNSAFE_PATH`). A hard link is a member with
 * its target's bytes (an earlier member, as tar writes them); one whose target is not in the archive
 * is `STREAMS_UNSAFE_PATH`. Directories are skipped; symbolic links are rejected when their target
 * escapes and skipped otherwise.
 */
export async function* readTar(
  chunks: AsyncIterable<Uint8Array>,
  options: ReadTarOptions = {},
): AsyncGenerator<TarMember> {
  const { url, signal } = options;
  const maxBytes = options.maxMemberBytes ?? 2 ** 32;
  const linkBytes = options.maxLinkBytes ?? 64 * 1024 * 1024;
  // Hard-link targets: every member name seen, and the bytes of the latest ones (oldest first).
  const names = new Set<string>();
  const recent = new Map<string, Uint8Array>();
  let recentBytes = 0;
  const reader = new ChunkReader(chunks);
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  try {
    for (;;) {
      throwIfAborted(signal);
      const block = await reader.read(BLOCK, signal);
      if (block.length === 0) return; // end without the two zero blocks: accepted, as tar does
      if (block.length < BLOCK)
        throw corrupt(`archive ends inside a header at byte ${reader.position}`, url);
      if (block.every((b) => b === 0)) return;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (block[i] ?? 0);
      const stored = parseNumber(block, 148, 8, 'checksum', url);
      if (stored !== sum)
        throw corrupt(`header checksum mismatch at byte ${reader.position - BLOCK}`, url);
      const type = String.fromCharCode(block[156] ?? 0);
      let size = parseNumber(block, 124, 12, 'size', url);
      const magic = cString(block, 257, 6);
      let name = cString(block, 0, 100, utf8);
      if (magic.startsWith('ustar')) {
        const prefix = cString(block, 345, 155, utf8);
        if (prefix) name = `${prefix}/${name}`;
      }
      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        if (size > 1 << 20) throw corrupt(`extended header of ${size} bytes`, url);
        const data = await reader.read(size, signal);
        if (data.length < size) throw corrupt('archive ends inside an extended header', url);
        await reader.skip((BLOCK - (size % BLOCK)) % BLOCK, signal);
        if (type === 'x') pax = parsePax(data, url);
        else if (type === 'g') globalPax = { ...globalPax, ...parsePax(data, url) };
        else if (type === 'L') longName = cString(data, 0, data.length, utf8);
        else longLink = cString(data, 0, data.length, utf8);
        continue;
      }
      const ext = { ...globalPax, ...pax };
      if (ext.path !== undefined) name = ext.path;
      else if (longName !== undefined) name = longName;
      if (ext.size !== undefined) {
        size = Number(ext.size);
        if (!Number.isSafeInteger(size) || size < 0) throw corrupt('bad pax size', url);
      }
      const link = ext.linkpath ?? longLink ?? cString(block, 157, 100, utf8);
      pax = {};
      longName = undefined;
      longLink = undefined;
      if (size > maxBytes) throw corrupt(`member "${name}" claims ${size} bytes`, url);
      checkMemberName(name, url);
      const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);
      if (type === '0' || type === '\0' || type === '7') {
        const data = await reader.read(size, signal);
        if (data.length < size) throw corrupt(`archive ends inside member "${name}"`, url);
        if ((await reader.skip(padded - size, signal)) < padded - size)
          throw corrupt(`archive ends inside the padding of "${name}"`, url);
        const key = linkKey(name);
        names.add(key);
        recent.delete(key);
        recent.set(key, data);
        recentBytes += data.length;
        for (const [old, bytes] of recent) {
          if (recentBytes <= linkBytes) break;
          recent.delete(old);
          recentBytes -= bytes.length;
        }
        yield { name, data };
      } else if (type === '1') {
        const target = link;
        checkMemberName(target, url);
        const data = recent.get(linkKey(target));
        if (data === undefined) {
          if (names.has(linkKey(target)))
            throw new StreamsError(
              'STREAMS_NOT_IMPLEMENTED',
              `[streams/index] tar member "${name}" is a hard link to "${target}", more than maxLinkBytes back in the archive`,
              { url, fix: 'raise maxLinkBytes, or rebuild the archive without hard links' },
            );
          throw new StreamsError(
            'STREAMS_UNSAFE_PATH',
            `[streams/index] tar member "${name}" is a hard link to "${target}", which is not in the archive`,
            { url, fix: 'rebuild the archive without links to files outside it' },
          );
        }
        if ((await reader.skip(padded, signal)) < padded)
          throw corrupt(`archive ends inside member "${name}"`, url);
        yield { name, data };
      } else {
        if (type === '2') {
          const target = link;
          if (target.startsWith('/') || target.split('/').includes('..'))
            throw new StreamsError(
              'STREAMS_UNSAFE_PATH',
              `[streams/index] tar member "${name}" links outside the archive ("${target}")`,
              { url, fix: 'rebuild the archive without links' },
            );
        }
        if ((await reader.skip(padded, signal)) < padded)
          throw corrupt(`archive ends inside member "${name}"`, url);
      }
    }
  } finally {
    await reader.close();
  }
}
