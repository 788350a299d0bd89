import { StreamsError, throwIfAborted } from '@streams/core';
import { ChunkReader } from './chunkReader.js';

/** One regular file of a tar archive. */
export interface TarMember {
  name: string;
  /** Its bytes (empty from {@link locateTarMembers}, which does not read them). */
  data: Uint8Array;
  /** Where its bytes are in the (uncompressed) archive: set by {@link locateTarMembers}. */
  at?: { offset: number; size: number };
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
  const first = name.charCodeAt(0);
  if (
    first === 0x2f || // '/'
    first === 0x5c || // '\\'
    (name.charCodeAt(1) === 0x3a && /^[a-zA-Z]:/.test(name)) ||
    // Splitting only names that hold a "..": the usual name costs one scan.
    (name.includes('..') && name.split(/[/\\]/).includes('..'))
  )
    throw new StreamsError(
      'STREAMS_UNSAFE_PATH',
      `[streams/index] tar member "${name}" escapes the archive (absolute path or "..")`,
      { url, fix: 'rebuild the archive with relative member names' },
    );
}

/** A member name as hard links name it: `./a/b` and `a/b` are one member. */
function linkKey(name: string): string {
  return name.startsWith('./') ? name.replace(/^(\.\/)+/, '') : name;
}

/** A NUL-terminated header field; ASCII (the usual case) without a decoder call. */
function cString(block: Uint8Array, start: number, len: number, dec = latin1): string {
  let end = start;
  const stop = Math.min(start + len, block.length);
  let ascii = true;
  for (; end < stop; end++) {
    const b = block[end] as number;
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
  }
  if (end === start) return '';
  const field = block.subarray(start, end);
  return ascii ? String.fromCharCode.apply(null, field as unknown as number[]) : dec.decode(field);
}

function parseNumber(
  block: Uint8Array,
  start: number,
  len: number,
  what: string,
  url?: string,
): number {
  const first = block[start] ?? 0;
  if ((first & 0x80) !== 0) {
    // GNU base-256: big-endian two's complement, first byte's top bit is the marker.
    if ((first & 0x40) !== 0) throw corrupt(`negative ${what}`, url);
    let v = first & 0x3f;
    for (let i = start + 1; i < start + len; i++) {
      v = v * 256 + (block[i] ?? 0);
      if (!Number.isSafeInteger(v)) throw corrupt(`${what} is too large`, url);
    }
    return v;
  }
  // Octal digits, with leading and trailing spaces and a NUL end allowed.
  let v = 0;
  let i = start;
  const end = start + len;
  while (i < end && block[i] === 0x20) i++;
  let digits = 0;
  for (; i < end; i++) {
    const b = block[i] as number;
    if (b >= 0x30 && b <= 0x37) {
      v = v * 8 + (b - 0x30);
      digits++;
    } else break;
  }
  for (; i < end; i++) {
    const b = block[i] as number;
    if (b === 0) break;
    if (b !== 0x20) {
      const text = cString(block, start, len).trim();
      throw corrupt(`${what} field "${text}" is not octal`, url);
    }
  }
  return digits === 0 ? 0 : v;
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

/** A step of the tar parser: bytes it needs read or skipped, or a member it found. */
type TarOp =
  | { op: 'read'; n: number }
  | { op: 'skip'; n: number }
  | { op: 'member'; member: TarMember };

const isZero = (block: Uint8Array): boolean => {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
};

const EMPTY = new Uint8Array(0);

/** Whether a header block carries the `ustar` magic (so its prefix field extends the name). */
const isUstar = (b: Uint8Array): boolean =>
  b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72;

/**
 * The members seen so far, for hard links to them (rare): appended in archive order (an array
 * push per member, not a map entry), looked up by a name index built only when a link comes.
 * Members read keep their bytes up to a budget (oldest dropped first), in memory or streamed
 * alike; located members keep their place.
 */
class LinkTargets {
  readonly #names: string[] = [];
  readonly #data: (Uint8Array | undefined)[] = [];
  readonly #at: ({ offset: number; size: number } | undefined)[] = [];
  #bytes = 0;
  #oldest = 0; // members before this one have had their bytes dropped
  #index: Map<string, number> | undefined;
  #indexed = 0;
  constructor(private readonly budget: number) {}

  add(name: string, data: Uint8Array | undefined, at?: { offset: number; size: number }): void {
    this.#names.push(name);
    this.#data.push(data);
    this.#at.push(at);
    if (data === undefined || this.budget === Infinity) return;
    this.#bytes += data.length;
    while (this.#bytes > this.budget && this.#oldest < this.#data.length) {
      this.#bytes -= this.#data[this.#oldest]?.length ?? 0;
      this.#data[this.#oldest++] = undefined;
    }
  }

  /** The latest member named `target`: its bytes (undefined when dropped) and place; or none. */
  find(
    target: string,
  ):
    | { data: Uint8Array | undefined; at: { offset: number; size: number } | undefined }
    | undefined {
    this.#index ??= new Map();
    for (; this.#indexed < this.#names.length; this.#indexed++)
      this.#index.set(linkKey(this.#names[this.#indexed] as string), this.#indexed);
    const i = this.#index.get(linkKey(target));
    return i === undefined ? undefined : { data: this.#data[i], at: this.#at[i] };
  }
}

/**
 * The tar parser, one for both readers: it asks for the bytes it needs (`read` gets them back,
 * `skip` the count skipped) and hands out members, so an archive in memory is walked without an
 * await and a stream through its chunk reader.
 */
function* tarParser(
  options: ReadTarOptions,
  locate = false,
): Generator<TarOp, void, Uint8Array | number | undefined> {
  const { url } = options;
  const maxBytes = options.maxMemberBytes ?? 2 ** 32;
  const links = new LinkTargets(
    locate ? Number.POSITIVE_INFINITY : (options.maxLinkBytes ?? 64 * 1024 * 1024),
  );
  let position = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> | undefined;
  let globalPax: Record<string, string> | undefined;
  // One op object per kind, reused: a driver reads it before the parser goes on.
  const readOp = { op: 'read' as const, n: 0 };
  const skipOp = { op: 'skip' as const, n: 0 };
  const memberOp: { op: 'member'; member: TarMember } = {
    op: 'member',
    member: { name: '', data: EMPTY },
  };
  const ask = <T extends { n: number }>(op: T, n: number): T => {
    op.n = n;
    return op;
  };
  const give = (member: TarMember) => {
    memberOp.member = member;
    return memberOp;
  };
  const missingLink = (name: string, target: string) =>
    new StreamsError(
      'STREAMS_UNSAFE_PATH',
      `[streams/index] tar member "${name}" is a hard link to "${target}", which is not in the archive`,
      { url, fix: 'rebuild the archive without links to files outside it' },
    );
  for (;;) {
    const block = (yield ask(readOp, BLOCK)) as Uint8Array;
    position += block.length;
    if (block.length === 0) return; // end without the two zero blocks: accepted, as tar does
    if (block.length < BLOCK)
      throw corrupt(`archive ends inside a header at byte ${position - block.length}`, url);
    if (isZero(block)) return;
    let sum = 0;
    for (let i = 0; i < 148; i++) sum += block[i] as number;
    for (let i = 156; i < BLOCK; i++) sum += block[i] as number;
    sum += 8 * 32; // the checksum field counts as spaces
    const stored = parseNumber(block, 148, 8, 'checksum', url);
    if (stored !== sum) throw corrupt(`header checksum mismatch at byte ${position - BLOCK}`, url);
    const type = String.fromCharCode(block[156] ?? 0);
    let size = parseNumber(block, 124, 12, 'size', url);
    let name = cString(block, 0, 100, utf8);
    if (isUstar(block)) {
      const prefix = cString(block, 345, 155, utf8);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > 1 << 20) throw corrupt(`extended header of ${size} bytes`, url);
      const data = (yield ask(readOp, size)) as Uint8Array;
      if (data.length < size) throw corrupt('archive ends inside an extended header', url);
      position += data.length + ((yield ask(skipOp, (BLOCK - (size % BLOCK)) % BLOCK)) as number);
      if (type === 'x') pax = parsePax(data, url);
      else if (type === 'g') globalPax = { ...globalPax, ...parsePax(data, url) };
      else if (type === 'L') longName = cString(data, 0, data.length, utf8);
      else longLink = cString(data, 0, data.length, utf8);
      continue;
    }
    const ext = pax === undefined && globalPax === undefined ? undefined : { ...globalPax, ...pax };
    if (ext?.path !== undefined) name = ext.path;
    else if (longName !== undefined) name = longName;
    if (ext?.size !== undefined) {
      size = Number(ext.size);
      if (!Number.isSafeInteger(size) || size < 0) throw corrupt('bad pax size', url);
    }
    const link =
      type === '1' || type === '2'
        ? (ext?.linkpath ?? longLink ?? cString(block, 157, 100, utf8))
        : '';
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    if (size > maxBytes) throw corrupt(`member "${name}" claims ${size} bytes`, url);
    checkMemberName(name, url);
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);
    const regular = type === '0' || type === '\0' || type === '7';
    if (regular && locate) {
      const at = { offset: position, size };
      const skipped = (yield ask(skipOp, padded)) as number;
      position += skipped;
      if (skipped < size) throw corrupt(`archive ends inside member "${name}"`, url);
      if (skipped < padded) throw corrupt(`archive ends inside the padding of "${name}"`, url);
      links.add(name, undefined, at);
      yield give({ name, data: EMPTY, at });
    } else if (regular) {
      const data = (yield ask(readOp, size)) as Uint8Array;
      if (data.length < size) throw corrupt(`archive ends inside member "${name}"`, url);
      const pad = (yield ask(skipOp, padded - size)) as number;
      position += size + pad;
      if (pad < padded - size) throw corrupt(`archive ends inside the padding of "${name}"`, url);
      links.add(name, data);
      yield give({ name, data });
    } else if (type === '1') {
      checkMemberName(link, url);
      const target = links.find(link);
      if (target === undefined) throw missingLink(name, link);
      if (!locate && target.data === undefined)
        throw new StreamsError(
          'STREAMS_NOT_IMPLEMENTED',
          `[streams/index] tar member "${name}" is a hard link to "${link}", more than maxLinkBytes back in the archive`,
          { url, fix: 'raise maxLinkBytes, or rebuild the archive without hard links' },
        );
      const skipped = (yield ask(skipOp, padded)) as number;
      position += skipped;
      if (skipped < padded) throw corrupt(`archive ends inside member "${name}"`, url);
      yield give(
        locate ? { name, data: EMPTY, at: target.at } : { name, data: target.data as Uint8Array },
      );
    } else {
      if (type === '2' && (link.startsWith('/') || link.split('/').includes('..')))
        throw new StreamsError(
          'STREAMS_UNSAFE_PATH',
          `[streams/index] tar member "${name}" links outside the archive ("${link}")`,
          { url, fix: 'rebuild the archive without links' },
        );
      const skipped = (yield ask(skipOp, padded)) as number;
      position += skipped;
      if (skipped < padded) throw corrupt(`archive ends inside member "${name}"`, url);
    }
  }
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
  const { signal } = options;
  const reader = new ChunkReader(chunks);
  try {
    const parser = tarParser(options);
    let input: Uint8Array | number | undefined;
    for (;;) {
      const step = parser.next(input);
      if (step.done) return;
      const op = step.value;
      if (op.op === 'read') {
        throwIfAborted(signal);
        input = await reader.read(op.n, signal);
      } else if (op.op === 'skip') input = await reader.skip(op.n, signal);
      else {
        input = undefined;
        yield op.member;
      }
    }
  } finally {
    await reader.close();
  }
}

/** Drives the parser over an archive of `size` bytes read synchronously by `readAt(start, end)`. */
function* runParser(
  parser: Generator<TarOp, void, Uint8Array | number | undefined>,
  size: number,
  readAt: (start: number, end: number) => Uint8Array,
  signal: AbortSignal | undefined,
): Generator<TarMember> {
  let pos = 0;
  let input: Uint8Array | number | undefined;
  for (;;) {
    const step = parser.next(input);
    if (step.done) return;
    const op = step.value;
    if (op.op === 'member') {
      input = undefined;
      yield op.member;
      continue;
    }
    const end = Math.min(size, pos + op.n);
    if (op.op === 'read') {
      throwIfAborted(signal);
      input = readAt(pos, end);
    } else input = end - pos;
    pos = end;
  }
}

/**
 * {@link readTar} over an archive in memory, without an await: every member's data is a view into
 * `bytes` (nothing is copied).
 */
export function readTarBytes(
  bytes: Uint8Array,
  options: ReadTarOptions = {},
): Generator<TarMember> {
  return runParser(
    tarParser(options),
    bytes.length,
    (a, b) => bytes.subarray(a, b),
    options.signal,
  );
}

/**
 * The members of an archive in memory located, not read ({@link locateTarMembers} over `bytes`):
 * no view per member is made, and a hard link finds its target however far back it is.
 */
export function locateTarBytes(
  bytes: Uint8Array,
  options: ReadTarOptions = {},
): Generator<TarMember> {
  return runParser(
    tarParser(options, true),
    bytes.length,
    (a, b) => bytes.subarray(a, b),
    options.signal,
  );
}

/** Bytes {@link locateTarMembers} reads at once: many headers of small members per read. */
const WINDOW = 64 * 1024;

/**
 * The members of a tar archive located, not read: each one's `at` says where its bytes are, and
 * only headers are read (through `read(start, end)`, e.g. a byte source's `readRangeSync`, in
 * windows of 64 KiB), so counting the samples of a tar of large members reads a sliver of it.
 * The same checks as {@link readTar}; `size` is the archive's size.
 */
export function locateTarMembers(
  read: (start: number, end: number) => Uint8Array,
  size: number,
  options: ReadTarOptions = {},
): Generator<TarMember> {
  let win: Uint8Array = EMPTY;
  let winStart = 0;
  let lastEnd = 0;
  let skipped = 0; // moving average of the bytes skipped between reads
  const windowed = (start: number, end: number): Uint8Array => {
    skipped = 0.8 * skipped + 0.2 * (start - lastEnd);
    lastEnd = end;
    if (start < winStart || end > winStart + win.length) {
      winStart = start;
      // Members that are large on average leave each header alone in a window: read just what
      // is asked then.
      const wide = skipped < WINDOW / 8;
      win = read(start, wide ? Math.min(size, start + Math.max(WINDOW, end - start)) : end);
    }
    return win.subarray(start - winStart, Math.min(win.length, end - winStart));
  };
  return runParser(tarParser(options, true), size, windowed, options.signal);
}
