// The WebDataset index of a tar (wdsIndex.ts) by one loop over its headers, for archives of plain
// members: ustar or GNU headers of regular files and directories with ASCII names, which is what
// WebDataset writers make. Anything else (pax or GNU long names, links, base-256 sizes, non-ASCII
// names, any damage) goes to the tar reader, which handles every case and gives the errors, so
// this walk accepts only what that reader accepts, and places the same members.
import { throwIfAborted } from '@streams/core';
import { checkMemberName, locateTarBytes, locateTarMembers } from './tarReader.js';
import { indexTarMembers, WdsTarIndex } from './wdsIndex.js';
import { wdsSplitKey } from './webDataset.js';

const BLOCK = 512;
/** The tar reader's default bound on a member's size. */
const MAX_MEMBER = 2 ** 32;
/** Bytes read at once from an archive not in memory: the headers of many small members. */
const WINDOW = 64 * 1024;
const EMPTY = new Uint8Array(0);

/** The WebDataset index of a tar in memory (member places are offsets into `bytes`). */
export function indexTarBytes(bytes: Uint8Array, url: string, signal?: AbortSignal): WdsTarIndex {
  return (
    plainIndex(bytes.length, undefined, bytes, url, signal) ??
    indexTarMembers(locateTarBytes(bytes, { url, signal }), url, bytes.length)
  );
}

/**
 * The WebDataset index of a tar of `size` bytes read through `read(start, end)` (a local file's
 * synchronous range reads): only headers are read, in windows of 64 KiB while members are small.
 */
export function indexTarRanges(
  read: (start: number, end: number) => Uint8Array,
  size: number,
  url: string,
  signal?: AbortSignal,
): WdsTarIndex {
  return (
    plainIndex(size, read, undefined, url, signal) ??
    indexTarMembers(locateTarMembers(read, size, { url, signal }), url, size)
  );
}

/**
 * True when `bytes` still hold the archive `index` was made from: its size, and right before every
 * member a header with a valid checksum, the member's size and its name (a rewrite of the same
 * size that moves or renames members fails this). A member whose header does not hold its name
 * plainly (a pax or GNU long name, a hard link placed at its target) fails it too: the tar is then
 * indexed again, which is slower, never wrong.
 */
export function indexFits(index: WdsTarIndex, bytes: Uint8Array): boolean {
  if (bytes.length !== index.archiveBytes) return false;
  const words = wordsOf(bytes);
  for (let j = 0; j < index.samples; j++) {
    const key = index.keys[j] as string;
    const end = index.firstOf(j + 1);
    for (let m = index.firstOf(j); m < end; m++) {
      const h = index.offsetOf(m) - BLOCK;
      if (h < 0 || h % BLOCK !== 0) return false;
      if (headerSum(bytes, words, h) !== octal(bytes, h + 148, 8)) return false;
      if (octal(bytes, h + 124, 12) !== index.sizeOf(m)) return false;
      if (!namesMember(bytes, h, key, index.extOf(m))) return false;
    }
  }
  return true;
}

/**
 * An octal header field as the tar reader parses it (leading spaces, digits, then spaces or a NUL
 * end); -1 where the reader would do anything else (base-256, an error).
 */
function octal(b: Uint8Array, start: number, len: number): number {
  const end = start + len;
  let i = start;
  if (((b[i] as number) & 0x80) !== 0) return -1;
  while (i < end && b[i] === 0x20) i++;
  let v = 0;
  for (; i < end; i++) {
    const c = b[i] as number;
    if (c >= 0x30 && c <= 0x37) v = v * 8 + (c - 0x30);
    else break;
  }
  for (; i < end; i++) {
    const c = b[i] as number;
    if (c === 0) break;
    if (c !== 0x20) return -1;
  }
  return v;
}

/** 32-bit words over `b` when it is aligned for them. */
function wordsOf(b: Uint8Array): Uint32Array | undefined {
  return b.byteOffset % 4 === 0
    ? new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2)
    : undefined;
}

/**
 * The checksum of the header at byte h of `b` (its bytes summed, its checksum field counted as
 * spaces), -1 for a zero block. With `words`, two bytes of each word are added at once in 16-bit
 * lanes (128 words of at most 255 a byte cannot carry out of a lane).
 */
function headerSum(b: Uint8Array, words: Uint32Array | undefined, h: number): number {
  let field = 0;
  for (let i = h + 148; i < h + 156; i++) field += b[i] as number;
  let all = 0;
  if (words) {
    let even = 0;
    let odd = 0;
    for (let i = h >>> 2; i < (h + BLOCK) >>> 2; i++) {
      const x = words[i] as number;
      even += x & 0x00ff00ff;
      odd += (x >>> 8) & 0x00ff00ff;
    }
    all = (even & 0xffff) + (even >>> 16) + (odd & 0xffff) + (odd >>> 16) - field;
  } else {
    for (let i = h; i < h + 148; i++) all += b[i] as number;
    for (let i = h + 156; i < h + BLOCK; i++) all += b[i] as number;
  }
  return all + field === 0 ? -1 : all + 8 * 32;
}

/** A NUL-terminated ASCII header field, or undefined when it holds other bytes. */
function ascii(b: Uint8Array, start: number, len: number): string | undefined {
  let end = start;
  const stop = start + len;
  for (; end < stop; end++) {
    const c = b[end] as number;
    if (c === 0) break;
    if (c >= 0x80) return undefined;
  }
  return end === start
    ? ''
    : String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
}

/** True when the header at h has the ustar magic: its prefix field extends the name. */
function isUstar(b: Uint8Array, h: number): boolean {
  return (
    b[h + 257] === 0x75 &&
    b[h + 258] === 0x73 &&
    b[h + 259] === 0x74 &&
    b[h + 260] === 0x61 &&
    b[h + 261] === 0x72
  );
}

/** The member name of the header at h (a ustar prefix joined), or undefined when not ASCII. */
function headerName(b: Uint8Array, h: number): string | undefined {
  const name = ascii(b, h, 100);
  if (name === undefined || !isUstar(b, h)) return name;
  const prefix = ascii(b, h + 345, 155);
  if (prefix === undefined) return undefined;
  return prefix ? `${prefix}/${name}` : name;
}

/**
 * True when the header at h names the member `key.ext` of a WebDataset index (its extension
 * compared lower-cased, as it was keyed), without making a string in the common case: a name
 * field that holds it whole.
 */
function namesMember(b: Uint8Array, h: number, key: string, ext: string): boolean {
  if (isUstar(b, h) && b[h + 345] !== 0) {
    const name = headerName(b, h);
    if (name === undefined) return false;
    const split = wdsSplitKey(name);
    return split.key === key && split.ext === ext;
  }
  const n = key.length + 1 + ext.length;
  if (n > 100) return false;
  for (let i = 0; i < key.length; i++) if (b[h + i] !== key.charCodeAt(i)) return false;
  if (b[h + key.length] !== 0x2e) return false;
  for (let i = 0; i < ext.length; i++) {
    let c = b[h + key.length + 1 + i] as number;
    if (c >= 0x41 && c <= 0x5a) c += 0x20; // keyed lower-cased
    if (c !== ext.charCodeAt(i)) return false;
  }
  return n === 100 || b[h + n] === 0;
}

/**
 * The index of an archive of plain members (`whole` in memory, or read through `read`), or
 * undefined when it holds anything else.
 */
function plainIndex(
  size: number,
  read: ((start: number, end: number) => Uint8Array) | undefined,
  whole: Uint8Array | undefined,
  url: string,
  signal: AbortSignal | undefined,
): WdsTarIndex | undefined {
  const index = new WdsTarIndex(size);
  let win = whole ?? EMPTY;
  let winStart = 0;
  let words = wordsOf(win);
  let skipped = 0; // moving average of the bytes skipped between headers
  let lastEnd = 0;
  let pos = 0;
  // The end of the data without the two zero blocks is accepted, as the tar reader does.
  while (pos < size) {
    if (signal?.aborted) throwIfAborted(signal);
    if (size - pos < BLOCK) return undefined;
    if (pos + BLOCK > winStart + win.length) {
      if (read === undefined) return undefined;
      skipped = 0.8 * skipped + 0.2 * (pos - lastEnd);
      // Members that are large on average leave each header alone in a window: read just it.
      win = read(pos, Math.min(size, pos + (skipped < WINDOW / 8 ? WINDOW : BLOCK)));
      winStart = pos;
      words = wordsOf(win);
      if (win.length < BLOCK) return undefined; // the file shrank: the reader says how
    }
    lastEnd = pos + BLOCK;
    const h = pos - winStart;
    const sum = headerSum(win, words, h);
    if (sum === -1) break; // a zero block ends the archive
    if (octal(win, h + 148, 8) !== sum) return undefined;
    const type = win[h + 156] as number;
    // '0', NUL and '7' are regular files; links ('1' '2') and extended headers ('x' 'g' 'L' 'K')
    // go to the tar reader; other types (directories...) are skipped, as the reader skips them.
    const regular = type === 0x30 || type === 0 || type === 0x37;
    if (type === 0x31 || type === 0x32 || type === 0x78 || type === 0x67) return undefined;
    if (type === 0x4c || type === 0x4b) return undefined;
    const memberSize = octal(win, h + 124, 12);
    if (memberSize < 0 || memberSize > MAX_MEMBER) return undefined;
    const name = headerName(win, h);
    if (name === undefined) return undefined;
    try {
      checkMemberName(name, url);
    } catch {
      return undefined;
    }
    const data = pos + BLOCK;
    const next = data + memberSize + ((BLOCK - (memberSize % BLOCK)) % BLOCK);
    if (next > size) return undefined;
    if (regular) {
      const { key, ext } = wdsSplitKey(name);
      if (!key.startsWith('__') && ext !== '') index.add(key, ext, data, memberSize, url);
    }
    pos = next;
  }
  return index;
}
