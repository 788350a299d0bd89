// WebDataset: tar shards (a tar, `.tar.gz`, a brace pattern, a wildcard, a directory or a list
// file), a tar is a unit. Loaded, a tar is held in memory with its samples' members found by one
// walk over its headers, so any sample is a slice of it (random access through member offsets).
// Counting at open walks the headers without decoding members: in memory for a local tar, streamed
// for a remote one (which is then not kept, so opening never fills the cache).
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { isStreamsError, StreamsError } from '@streams/core';
import { locateTarMembers, readTarBytes } from '../tarReader.js';
import { basenameUrl, isRemoteUrl } from '../urls.js';
import {
  isGzippedTar,
  tarMembers,
  type WdsGroup,
  type WebDatasetOptions,
  wdsGroups,
  wdsGroupsOf,
  wdsSampleOf,
} from '../webDataset.js';
import type { FormatOpenOptions, LoadedUnit, Sample, ShardFormat, UnitOptions } from './format.js';
import { ShardFileDataset, shardUnits } from './shardFiles.js';

const gunzipAsync = promisify(gunzip);
const TAR = /\.(tar|tar\.gz|tgz)$/i;

/** A tar in memory: the members of sample j are views into its bytes. */
class LoadedTar implements LoadedUnit {
  constructor(
    private readonly groups: WdsGroup[],
    private readonly url: string,
    private readonly options: WebDatasetOptions,
    readonly memoryBytes: number,
    readonly hit: boolean,
  ) {}
  get samples(): number {
    return this.groups.length;
  }
  decode(j: number): Sample {
    return wdsSampleOf(this.groups[j] as WdsGroup, this.url, this.options);
  }
  async release(): Promise<void> {}
}

class WdsDataset extends ShardFileDataset {
  readonly format = 'wds';

  constructor(
    url: string,
    units: ShardFileDataset['units'],
    private readonly o: FormatOpenOptions,
  ) {
    super(url, units, o.source);
  }

  async *stream(k: number, options: UnitOptions = {}): AsyncGenerator<Sample> {
    const url = this.fileOf(k);
    const signal = options.signal ?? this.o.signal;
    for await (const g of wdsGroups(
      tarMembers(this.source.stream(url, { signal }), url, signal),
      url,
    )) {
      const s = wdsSampleOf(g, url, this.o);
      this.note(s);
      yield s;
    }
  }

  /** The bytes of tar k (gunzipped), and whether the cache had them. */
  async #bytes(k: number, signal?: AbortSignal): Promise<{ bytes: Uint8Array; hit: boolean }> {
    const url = this.fileOf(k);
    const fetched = await this.source.fetch(url, { signal, size: this.units[k]?.bytes });
    if (!isGzippedTar(url)) return { bytes: fetched.bytes, hit: fetched.hit };
    try {
      return { bytes: new Uint8Array(await gunzipAsync(fetched.bytes)), hit: fetched.hit };
    } catch (cause) {
      throw new StreamsError(
        'STREAMS_SHARD_CORRUPT',
        `[streams/index] cannot gunzip ${basenameUrl(url)}: ${(cause as Error).message}`,
        { url, cause, fix: 'the file is truncated or not gzip: download or write it again' },
      );
    }
  }

  async load(k: number, options: UnitOptions = {}): Promise<LoadedUnit> {
    const url = this.fileOf(k);
    const signal = options.signal ?? this.o.signal;
    const { bytes, hit } = await this.#bytes(k, signal);
    // Every member read is a view into the tar's bytes, nothing is copied.
    const groups = [...wdsGroupsOf(readTarBytes(bytes, { url, signal }), url)];
    const loaded = new LoadedTar(groups, url, this.o, bytes.byteLength, hit);
    this.checkLoaded(k, groups.length);
    if (groups.length > 0) this.note(loaded.decode(0));
    return loaded;
  }

  protected override async countUnit(k: number, options: UnitOptions): Promise<number> {
    const url = this.fileOf(k);
    const signal = options.signal ?? this.o.signal;
    const sync = this.source.readRangeSync?.bind(this.source);
    // A local plain tar: its headers only, read in windows (a tar of large members is mostly
    // skipped); the members of a sample noted below are read where they are.
    const read =
      !isRemoteUrl(url) && !isGzippedTar(url) && sync
        ? (start: number, end: number) => {
            const got = sync(url, start, end);
            if (got === undefined)
              throw new StreamsError('STREAMS_NOT_FOUND', `[streams/index] cannot read ${url}`, {
                url,
                fix: 'check that the file exists and is readable',
              });
            return got;
          }
        : undefined;
    const groups = read
      ? wdsGroupsOf(
          locateTarMembers(read, await this.source.size(url, { signal }), { url, signal }),
          url,
        )
      : isRemoteUrl(url)
        ? wdsGroups(tarMembers(this.source.stream(url, { signal }), url, signal), url)
        : wdsGroupsOf(readTarBytes((await this.#bytes(k, signal)).bytes, { url, signal }), url);
    // Columns are learned from the first sample of each new set of extensions, not every sample;
    // a member that does not decode fails when its sample is read, not here.
    const shapes = new Set<string>();
    let n = 0;
    for await (const g of groups) {
      n++;
      const shape = g.members.map((m) => m.ext).join('/');
      if (shapes.has(shape)) continue;
      try {
        const members = g.members.map((m) =>
          m.at && read
            ? { ext: m.ext, data: read(m.at.offset, m.at.offset + m.at.size).slice() }
            : m,
        );
        this.note(wdsSampleOf({ key: g.key, members }, url, this.o));
        shapes.add(shape);
      } catch (e) {
        if (!isStreamsError(e, 'STREAMS_DECODE_FAILED')) throw e;
      }
    }
    return n;
  }
}

/** WebDataset tar shards: members grouped into samples by key (`000001.jpg` + `000001.cls`). */
export const wdsFormat: ShardFormat = {
  name: 'wds',
  description:
    'WebDataset tar shards (.tar, .tar.gz, shard-{000..099}.tar, a directory or list of tars)',
  matchName: (url) => (TAR.test(basenameUrl(url)) ? 1 : 0),
  async open(url, o) {
    return new WdsDataset(url, await shardUnits(url, TAR, o), o);
  },
};
