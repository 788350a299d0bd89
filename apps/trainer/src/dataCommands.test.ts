import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runCat } from './catCommand.js';
import { runInspect } from './inspectCommand.js';
import { EXIT, main } from './main.js';

const REF = fileURLToPath(new URL('../../../../shared/fixtures/mds-reference/', import.meta.url));
const PLAIN = join(REF, 'plain');

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

async function expected(): Promise<Record<string, unknown>[]> {
  return JSON.parse(await readFile(join(REF, 'expected.json'), 'utf8')).plain.samples;
}

describe('streams cat', () => {
  it('prints the MosaicML reference dataset exactly as expected.json, line by line', async () => {
    const out = sink();
    const err = sink();
    expect(await runCat([PLAIN], {}, { out: out.stream, err: err.stream })).toBe(0);
    const lines = out.text().trimEnd().split('\n');
    const want = await expected();
    expect(lines).toHaveLength(want.length);
    for (const [i, line] of lines.entries()) expect(JSON.parse(line), `line ${i}`).toEqual(want[i]);
    expect(err.text()).toBe('');
  });

  it('honours --offset and --limit, and accepts file: URLs and index.json paths', async () => {
    const want = await expected();
    for (const url of [pathToFileURL(PLAIN).toString(), join(PLAIN, 'index.json')]) {
      const out = sink();
      await runCat([url], { offset: 70, limit: 5 }, { out: out.stream, err: out.stream });
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
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
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
      await runCat([csv], { limit: 2 }, { out: out.stream, err: out.stream });
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
      await runCat([csv], { limit: 1, format: 'table' }, { out: t.stream, err: t.stream });
      expect(JSON.parse(t.text())).toEqual({ path: join(dir, 'a.jpg'), label: 1, size: 10 });
      const st = sink();
      await runInspect([csv], { json: true, format: 'table' }, { out: st.stream, err: st.stream });
      const stats = JSON.parse(st.text());
      expect(stats).toMatchObject({ format: 'table', count: 3, totalBytes: 60 });
      expect(stats.columns.find((c: { name: string }) => c.name === 'label').nulls).toBe(1);
      expect(stats.histograms.label).toEqual([{ value: '1', count: 2 }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('streams inspect', () => {
  it('prints count, bytes, columns and the label histogram', async () => {
    const out = sink();
    await runInspect([PLAIN], {}, { out: out.stream, err: out.stream });
    const text = out.text();
    expect(text).toMatch(/samples\s+1,000/);
    expect(text).toMatch(/format\s+mds/);
    expect(text).toMatch(/label \(10 values\)/);
    expect(text).toMatch(/blob\s+bytes\s+0/);
  });

  it('--json gives machine-readable statistics', async () => {
    const out = sink();
    await runInspect([PLAIN], { json: true }, { out: out.stream, err: out.stream });
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
