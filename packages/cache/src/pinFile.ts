import { closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The pins one cache instance holds without the lock (lockless hits), published in
 * `pins/<owner>` so that an evicting process can see them. The file is rewritten in place with
 * one `pwrite` per change: `<seq> <json> <seq>` padded with spaces. A concurrent reader can see a
 * mix of two versions (a write copies its bytes in order); the sequence number at both ends then
 * differs and the reader reads again.
 */
export class PinFile {
  private fd: number | undefined;
  private seq = 0;
  private length = 0;
  readonly path: string;

  constructor(dir: string, owner: string) {
    this.path = join(dir, owner);
  }

  /** Publishes `pins` (key -> count). */
  write(pins: ReadonlyMap<string, number>): void {
    this.fd ??= openSync(this.path, 'w');
    this.seq++;
    let text = `${this.seq} ${JSON.stringify([...pins])} ${this.seq}`;
    if (text.length < this.length) text = text.padEnd(this.length);
    const buf = Buffer.from(text, 'utf8');
    let done = 0;
    while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done, done);
    this.length = Math.max(this.length, buf.length);
  }

  /** Closes and deletes the file. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    try {
      unlinkSync(this.path);
    } catch {}
  }
}

/** What {@link readPinFiles} found: pins by key, and owners whose file could not be read consistently. */
export interface ExternalPins {
  pins: Map<string, number>;
  unreadable: string[];
}

/**
 * Reads every owner's pin file in `dir` except `skip` (this instance); files of owners for which
 * `alive` says false are deleted instead.
 */
export function readPinFiles(
  dir: string,
  skip: string,
  alive: (owner: string) => boolean,
): ExternalPins {
  const pins = new Map<string, number>();
  const unreadable: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { pins, unreadable };
  }
  for (const owner of names) {
    if (owner === skip) continue;
    if (!alive(owner)) {
      try {
        unlinkSync(join(dir, owner));
      } catch {}
      continue;
    }
    const list = readOne(join(dir, owner));
    if (list === undefined) {
      unreadable.push(owner);
      continue;
    }
    for (const [key, n] of list) pins.set(key, (pins.get(key) ?? 0) + n);
  }
  return { pins, unreadable };
}

function readOne(path: string): Array<[string, number]> | undefined {
  for (let attempt = 0; attempt < 100; attempt++) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8').trimEnd();
    } catch {
      return []; // deleted: its owner closed
    }
    if (text === '') return []; // created, not yet written
    const first = text.indexOf(' ');
    const last = text.lastIndexOf(' ');
    if (first > 0 && last > first && text.slice(0, first) === text.slice(last + 1)) {
      try {
        return JSON.parse(text.slice(first + 1, last)) as Array<[string, number]>;
      } catch {}
    }
  }
  return undefined;
}
