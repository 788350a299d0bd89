import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHttpServer } from '@streams/testkit';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { runCat } from '../src/catCommand.js';
import { runIndex } from '../src/indexCommand.js';
import { jsonLines, sink, tempDir } from './helpers.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function png(seed: number): Promise<Uint8Array> {
  const px = new Uint8Array(16 * 16 * 3).map((_, i) => (i * 7 + seed * 31) % 256); // [16, 16, 3]
  return new Uint8Array(
    await sharp(px, { raw: { width: 16, height: 16, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

/** Files served by node:http and an index naming them: 3 good rows and one of each kind of broken row. */
async function fixture(dir: string) {
  const files = join(dir, 'files');
  await mkdir(files);
  const bytes: Record<string, Uint8Array> = {};
  for (const [name, seed] of [
    ['a', 1],
    ['b', 2],
    ['c', 3],
    ['hash', 4],
    ['size', 5],
    ['trunc', 6],
  ] as const) {
    let b = await png(seed);
    if (name === 'trunc') b = b.subarray(0, Math.floor(b.byteLength / 2));
    bytes[name] = b;
    await writeFile(join(files, `${name}.png`), b);
  }
  const server = await startHttpServer({ root: files });
  const url = (name: string) => `${server.url}${name}.png`;
  const rows: [string, number, string, number][] = [
    [url('a'), 0, sha256(bytes.a!), bytes.a!.byteLength],
    // A 404, through a URL with credentials that the report must not show.
    [url('missing').replace('http://', 'http://user:secret@'), 1, '', 10],
    [url('b'), 2, sha256(bytes.b!), bytes.b!.byteLength],
    [url('hash'), 3, sha256(bytes.a!), bytes.hash!.byteLength],
    [url('size'), 4, sha256(bytes.size!), bytes.size!.byteLength + 1],
    // Right size and hash, but not a whole PNG: only --decode finds it.
    [url('trunc'), 5, sha256(bytes.trunc!), bytes.trunc!.byteLength],
    [url('c'), 6, sha256(bytes.c!), bytes.c!.byteLength],
  ];
  const index = join(dir, 'index.csv');
  await writeFile(index, `url,label,sha256,size\n${rows.map((r) => r.join(',')).join('\n')}\n`);
  return { server, index, bytes };
}

async function catRows(path: string): Promise<Record<string, unknown>[]> {
  const out = sink();
  expect(await runCat([path], {}, { out: out.stream, err: sink().stream })).toBe(0);
  return jsonLines(out.text());
}

describe('streams index validate', () => {
  it('drops the 404, wrong-hash, wrong-size and (with --decode) truncated rows; the clean index streams the good rows', async () => {
    await using tmp = await tempDir('streams-validate-');
    const { server, index, bytes } = await fixture(tmp.dir);
    await using _server = server;
    const clean = join(tmp.dir, 'clean.parquet');
    const report = join(tmp.dir, 'report.jsonl');
    const out = sink();
    const err = sink();
    const code = await runIndex(
      ['validate', index],
      { out: clean, report, decode: true, concurrency: 3 },
      { out: out.stream, err: err.stream },
    );
    expect(code).toBe(0);
    expect(JSON.parse(out.text())).toMatchObject({
      rows: 7,
      good: 3,
      dropped: 4,
      reasons: {
        STREAMS_NOT_FOUND: 1,
        STREAMS_HASH_MISMATCH: 1,
        STREAMS_SIZE_MISMATCH: 1,
        STREAMS_DECODE_FAILED: 1,
      },
      out: clean,
    });
    const dropped = jsonLines<{
      row: number;
      column: string;
      url: string;
      reason: string;
      message: string;
    }>(await readFile(report, 'utf8')).sort((x, y) => x.row - y.row);
    expect(dropped.map((d) => [d.row, d.column, d.reason])).toEqual([
      [1, 'url', 'STREAMS_NOT_FOUND'],
      [3, 'url', 'STREAMS_HASH_MISMATCH'],
      [4, 'url', 'STREAMS_SIZE_MISMATCH'],
      [5, 'url', 'STREAMS_DECODE_FAILED'],
    ]);
    expect(dropped[0]?.url).toBe(`${server.url.replace('http://', 'http://***:***@')}missing.png`);
    expect(JSON.stringify(dropped)).not.toContain('secret');
    expect(dropped[0]?.message).toMatch(/404/);
    // The progress line went to stderr, the summary to stdout.
    expect(err.text()).toMatch(/validate .*7\/7/);

    const rows = await catRows(clean);
    expect(rows.map((r) => r.label)).toEqual([0, 2, 6]);
    expect(rows).toEqual(
      (['a', 'b', 'c'] as const).map((n, i) => ({
        url: `${server.url}${n}.png`,
        label: [0, 2, 6][i],
        sha256: sha256(bytes[n]!),
        size: bytes[n]!.byteLength,
      })),
    );
  }, 60_000);

  it('keeps a truncated image without --decode, and writes the clean index as JSONL by its extension', async () => {
    await using tmp = await tempDir('streams-validate-');
    const { server, index } = await fixture(tmp.dir);
    await using _server = server;
    const clean = join(tmp.dir, 'clean.jsonl');
    const out = sink();
    expect(
      await runIndex(['validate', index], { out: clean }, { out: out.stream, err: sink().stream }),
    ).toBe(0);
    expect(JSON.parse(out.text())).toMatchObject({ rows: 7, good: 4, dropped: 3 });
    const rows = await catRows(clean);
    expect(rows.map((r) => r.label)).toEqual([0, 2, 5, 6]);
  }, 60_000);

  it('refuses an output or report it cannot write before checking anything', async () => {
    await using tmp = await tempDir('streams-validate-');
    await expect(
      runIndex(
        ['validate', join(tmp.dir, 'nope.csv')],
        { out: join(tmp.dir, 'x.txt') },
        {
          out: sink().stream,
          err: sink().stream,
        },
      ),
    ).rejects.toThrow(/cannot write an index as "\.txt".*Fix: name the output \.parquet/);
    await expect(
      runIndex(
        ['validate', join(tmp.dir, 'nope.csv')],
        { report: join(tmp.dir, 'missing-dir', 'report.jsonl') },
        { out: sink().stream, err: sink().stream },
      ),
    ).rejects.toThrow(/ENOENT/);
  });
});
