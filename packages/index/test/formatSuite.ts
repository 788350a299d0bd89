import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isAbortError, isStreamsError } from '@streams/core';
import { openCache } from '@streams/downloader';
import { startHttpServer, type TestHttpServer } from '@streams/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../src/dataset.js';
import type { FormatDataset, Sample } from '../src/formats/format.js';
import { detectFormat, getFormat } from '../src/formats/registry.js';
import { RoutingByteSource } from '../src/routingByteSource.js';
import { toJsonValue } from '../src/sampleJson.js';
import { tempDir } from './fixtures.js';

/** What a format's test hands the shared conformance suite. */
export interface FormatSuiteOptions {
  /** The registered format under test. */
  format: string;
  /**
   * Writes a dataset of at least 3 samples in at least 2 units into `dir` and returns its location
   * relative to `dir` (served over HTTP too) and its samples in dataset order.
   */
  write(dir: string): Promise<{ path: string; expected: Sample[] }>;
  /** Whether the format is detected from the location (default true). */
  detected?: boolean;
  /** Format-specific tests, in the same describe block. */
  extraTests?: (ctx: () => { dir: string; path: string; expected: Sample[] }) => void;
}

/** A sample as plain JSON, without the fields that name where it was read (`__url__`). */
export function plain(s: Sample): unknown {
  const { __url__: _url, ...rest } = s;
  return toJsonValue(rest);
}

async function open(url: string, format: string, source: RoutingByteSource) {
  return getFormat(format).open(url, { source });
}

async function allByLoad(fd: FormatDataset): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let k = 0; k < fd.units.length; k++) {
    const u = await fd.load(k);
    for (let j = 0; j < u.samples; j++) out.push(u.decode(j));
    await u.release();
  }
  return out;
}

/**
 * The conformance suite every shard format passes: detection, counting, reading in order, loading
 * units checked and decoding any sample of them in any order, streaming, ranges, the column
 * selection, an aborted signal, and reading over HTTP through a node cache (a second read
 * transfers nothing).
 */
export function testFormat(options: FormatSuiteOptions): void {
  describe(`format conformance: ${options.format}`, () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let dir: string;
    let path: string;
    let url: string;
    let expected: Sample[];
    let http: TestHttpServer;
    const source = new RoutingByteSource();

    beforeAll(async () => {
      tmp = await tempDir('streams-format-');
      dir = join(tmp.dir, 'data');
      await mkdir(dir, { recursive: true });
      ({ path, expected } = await options.write(dir));
      url = join(dir, path);
      http = await startHttpServer({ root: dir });
      expect(expected.length).toBeGreaterThanOrEqual(3);
    });
    afterAll(async () => {
      await source.close();
      await http?.close();
      await tmp?.cleanup();
    });

    if (options.detected !== false)
      it('is detected from its location, locally and over HTTP', async () => {
        expect(await detectFormat(url, source)).toBe(options.format);
        expect(await detectFormat(`${http.url}${path}`, source)).toBe(options.format);
      });

    it('counts its samples, and openDataset reads them in order', async () => {
      const fd = await open(url, options.format, source);
      try {
        expect(fd.units.length).toBeGreaterThanOrEqual(2);
        expect(await fd.count()).toBe(expected.length);
        expect(fd.units.reduce((a, u) => a + (u.samples ?? 0), 0)).toBe(expected.length);
      } finally {
        await fd.close();
      }
      await using ds = await openDataset(url, { format: options.format });
      const got: Sample[] = [];
      for await (const s of ds.samples()) got.push(s);
      expect(got.map(plain)).toEqual(expected.map(plain));
    });

    it('loads every unit and decodes any sample of it, in any order, the same way', async () => {
      const fd = await open(url, options.format, source);
      try {
        await fd.count();
        const inOrder = await allByLoad(fd);
        expect(inOrder.map(plain)).toEqual(expected.map(plain));
        let first = 0;
        for (let k = 0; k < fd.units.length; k++) {
          const u = await fd.load(k);
          expect(u.samples).toBe(fd.units[k]?.samples);
          expect(u.hit).toBe(true); // local files transfer nothing
          for (let j = u.samples - 1; j >= 0; j--)
            expect(plain(u.decode(j))).toEqual(plain(expected[first + j] as Sample));
          if (fd.readSample)
            for (let j = 0; j < u.samples; j++)
              expect(plain(await fd.readSample(k, j))).toEqual(
                plain(expected[first + j] as Sample),
              );
          if (fd.stream) {
            const streamed: Sample[] = [];
            for await (const s of fd.stream(k)) streamed.push(s);
            expect(streamed.map(plain)).toEqual(
              expected.slice(first, first + u.samples).map(plain),
            );
          }
          first += u.samples;
          await u.release();
        }
      } finally {
        await fd.close();
      }
    });

    it('reads a range of samples and keeps only the columns asked for', async () => {
      await using ds = await openDataset(url, { format: options.format });
      const got: Sample[] = [];
      for await (const s of ds.samples({ start: 1, end: expected.length - 1 })) got.push(s);
      expect(got.map(plain)).toEqual(expected.slice(1, -1).map(plain));
      const column = Object.keys(expected[0] as Sample).find((c) => c !== '__url__') as string;
      await using one = await openDataset(url, { format: options.format, columns: [column] });
      for await (const s of one.samples({ end: 2 })) expect(Object.keys(s)).toEqual([column]);
    });

    it('stops at an aborted signal', async () => {
      const ac = new AbortController();
      ac.abort();
      const fd = await open(url, options.format, source);
      try {
        await expect(fd.load(0, { signal: ac.signal })).rejects.toSatisfy(isAbortError);
      } finally {
        await fd.close();
      }
    });

    it('over HTTP through a node cache: the same samples, and a second read transfers nothing', async () => {
      await using cache = await openCache({ dir: join(tmp.dir, 'cache'), limit: '1gb' });
      const cached = new RoutingByteSource({ cache });
      const remote = `${http.url}${path}`;
      try {
        const read = async () => {
          const fd = await open(remote, options.format, cached);
          try {
            await fd.count();
            return await allByLoad(fd);
          } finally {
            await fd.close();
          }
        };
        expect((await read()).map(plain)).toEqual(expected.map(plain));
        const before = http.requests.length;
        expect((await read()).map(plain)).toEqual(expected.map(plain));
        const gets = http.requests.slice(before).filter((r) => r.method === 'GET');
        // Index files and units come from the cache; only listings (directory pages) may be asked again.
        expect(gets.filter((r) => !r.path.endsWith('/'))).toEqual([]);
      } finally {
        await cached.close();
      }
    });

    it('a missing location is STREAMS_NOT_FOUND, at open or at the first read', async () => {
      const e = await (async () => {
        const fd = await open(join(dir, 'missing', path), options.format, source);
        try {
          await fd.count();
          await fd.load(0);
        } finally {
          await fd.close();
        }
      })().catch((err: unknown) => err);
      expect(isStreamsError(e), String(e)).toBe(true);
      expect((e as { code: string }).code).toMatch(/STREAMS_NOT_FOUND|STREAMS_INDEX_INVALID/);
    });

    options.extraTests?.(() => ({ dir, path, expected }));
  });
}
