import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { registerFormat } from '@streams/index';
import { linesFormat } from '@streams/testkit';
import { describe, expect, it } from 'vitest';
import { expected, PLAIN, sink, tempDir } from '../test/helpers.js';
import { runCat } from './catCommand.js';
import { runConvert } from './convertCommand.js';
import { runIndex } from './indexCommand.js';
import { runInspect } from './inspectCommand.js';
import { EXIT, main } from './main.js';

describe('streams cat', () => {
  it('prints the MosaicML reference dataset exactly as expected.json, line by line', async () => {
    const out = sink();
    const err = sink();
    expect(await runCat([PLAIN], {}, { out: out.stream, err: err.stream })).toBe(0);
    const lines = out.text().trimEnd().split('\n');
    const want = await expected();
    expect(lines).toHaveLength(want.length);
    for (const [i, line] of lines.entries()) expect(JSON.parse(line), `line ${i}`).toEqual(want[i]);
    // Progress goes to stderr, never into the data on stdout.
    expect(err.text().trimEnd().split('\n').at(-1)).toMatch(/^cat \[#{30}\] 100% 1,000\/1,000 /);
  });

  it('--filter keeps matching samples of any format', async () => {
    const out = sink();
    await runCat(
      [PLAIN],
      { filter: 'label == 3 and id > 500', limit: 3 },
      { out: out.stream, err: sink().stream },
    );
    const want = (await expected())
      .filter((s) => s.label === 3 && (s.id as number) > 500)
      .slice(0, 3);
    expect(
      out
        .text()
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(want);
  });

  it('honours --offset and --limit, and accepts file: URLs and index.json paths', async () => {
    const want = await expected();
    for (const url of [pathToFileURL(PLAIN).toString(), join(PLAIN, 'index.json')]) {
      const out = sink();
      await runCat([url], { offset: 70, limit: 5 }, { out: out.stream, err: sink().stream });
      const lines = out
        .text()
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toEqual(want.slice(70, 75));
    }
  });

  it('fails with a coded error and exit code 1 on a missing dataset', async () => {
    const out = sink();
    const err = sink();
    const code = await main(['cat', '/nonexistent/dataset'], out.stream, err.stream);
    expect(code).toBe(EXIT.error);
    expect(err.text()).toMatch(/STREAMS_NOT_FOUND/);
  });

  it('runs as a real process, and stops quietly when the reader closes the pipe', async () => {
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    const args = ['--import', 'tsx', '--conditions=@streams/source', cli, 'cat', PLAIN];
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [...args, '--limit', '3'], {
      cwd,
    });
    const want = await expected();
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(want.slice(0, 3));

    // Like `streams cat ... | head -1`: ~500 KB of output, the reader leaves after the first chunk.
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    // No error and no summary line (a periodic progress line may come on a slow machine).
    expect(stderr).not.toMatch(/STREAMS_|Error|100%/);
    expect(code).toBe(0);
  }, 60_000);
});

describe('other formats', () => {
  it('cat and inspect read index tables (CSV) with null counts and histograms', async () => {
    const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'streams-trainer-'));
    try {
      const csv = join(dir, 'index.csv');
      await writeFile(csv, 'path,label,size\na.jpg,1,10\nb.jpg,,20\nc.jpg,1,30\n');
      const out = sink();
      await runCat([csv], { limit: 2 }, { out: out.stream, err: sink().stream });
      expect(
        out
          .text()
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ).toEqual([
        { path: 'a.jpg', label: 1, size: 10 },
        { path: 'b.jpg', label: null, size: 20 },
      ]);
      // As an index table, URL columns are resolved against the index location.
      const t = sink();
      await runCat([csv], { limit: 1, format: 'table' }, { out: t.stream, err: sink().stream });
      expect(JSON.parse(t.text())).toEqual({ path: join(dir, 'a.jpg'), label: 1, size: 10 });
      const st = sink();
      await runInspect(
        [csv],
        { json: true, format: 'table' },
        { out: st.stream, err: sink().stream },
      );
      const stats = JSON.parse(st.text());
      expect(stats).toMatchObject({ format: 'table', count: 3, totalBytes: 60 });
      expect(stats.columns.find((c: { name: string }) => c.name === 'label').nulls).toBe(1);
      expect(stats.histograms.label).toEqual([{ value: '1', count: 2 }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('cat prints a format registered from a test (one file and one registry line)', async () => {
    await using tmp = await tempDir();
    await writeFile(join(tmp.dir, 'a.lines'), 'alpha\nbeta\n');
    await writeFile(join(tmp.dir, 'b.lines'), 'gamma\n');
    const off = registerFormat(linesFormat);
    try {
      const out = sink();
      expect(await runCat([tmp.dir], {}, { out: out.stream, err: sink().stream })).toBe(0);
      expect(
        out
          .text()
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ).toEqual([
        { __key__: 'a.lines:0', text: 'alpha', index: 0 },
        { __key__: 'a.lines:1', text: 'beta', index: 1 },
        { __key__: 'b.lines:0', text: 'gamma', index: 0 },
      ]);
    } finally {
      off();
    }
  });
});

describe('streams inspect', () => {
  it('prints count, bytes, columns and the label histogram', async () => {
    const out = sink();
    await runInspect([PLAIN], {}, { out: out.stream, err: sink().stream });
    const text = out.text();
    expect(text).toMatch(/samples\s+1,000/);
    expect(text).toMatch(/format\s+mds/);
    expect(text).toMatch(/shards\s+16/);
    expect(text).toMatch(/label \(10 values\)/);
    expect(text).toMatch(/blob\s+bytes\s+0/);
  });

  it('--json gives machine-readable statistics', async () => {
    const out = sink();
    await runInspect([PLAIN], { json: true }, { out: out.stream, err: sink().stream });
    const stats = JSON.parse(out.text());
    expect(stats.count).toBe(1000);
    expect(stats.totalBytes).toBeGreaterThan(200_000);
    expect(stats.columns).toHaveLength(9);
    expect(stats.histograms.label).toHaveLength(10);
    expect(stats.histograms.label.reduce((a: number, x: { count: number }) => a + x.count, 0)).toBe(
      1000,
    );
    expect(stats.histograms.id).toBeUndefined();
  });
});

describe('streams convert and streams index build', () => {
  it('convert writes MDS shards that cat prints like the source', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'streams-trainer-'));
    try {
      const out = sink();
      const err = sink();
      const dst = join(dir, 'mds');
      const code = await runConvert(
        [PLAIN, dst],
        {
          format: 'mds',
          compression: 'zstd',
          hashes: 'sha1,xxh64',
          'size-limit': '64kb',
          encodings: 'label:int32,u8:uint8,f32:float32,i64:int64',
        },
        { out: out.stream, err: err.stream },
      );
      expect(code).toBe(0);
      expect(JSON.parse(out.text())).toMatchObject({ samples: 1000, format: 'mds' });
      expect(err.text()).toMatch(/convert -> mds \[#+\] 100% 1,000\/1,000/);
      const cat = sink();
      await runCat([dst], { validate: true }, { out: cat.stream, err: sink().stream });
      const want = await expected();
      const lines = cat.text().trimEnd().split('\n');
      for (const [i, line] of lines.entries()) expect(JSON.parse(line)).toEqual(want[i]);
      expect(lines).toHaveLength(1000);
      // Invalid flags are clear errors.
      const bad = await main(
        ['convert', PLAIN, join(dir, 'x'), '--format', 'zip'],
        out.stream,
        err.stream,
      );
      expect(bad).toBe(EXIT.usage);
      expect(err.text()).toMatch(/--format "zip" is not mds or wds/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('index build writes train and validation indexes from a DuckDB query', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'streams-trainer-'));
    try {
      const out = sink();
      const args = ['build'];
      await runIndex(
        args,
        {
          sql: 'SELECT i AS id, i % 5 AS aes_score FROM range(1000) t(i) WHERE i % 5 > 2',
          out: join(dir, 'index.parquet'),
          'val-ratio': 0.1,
          'max-val-rows': 30,
          seed: 0,
        },
        { out: out.stream, err: sink().stream },
      );
      expect(JSON.parse(out.text())).toMatchObject({ rows: 400, trainRows: 370, valRows: 30 });
      const cat = sink();
      await runCat([join(dir, 'index.val.parquet')], {}, { out: cat.stream, err: sink().stream });
      expect(cat.text().trimEnd().split('\n')).toHaveLength(30);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
