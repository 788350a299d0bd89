import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createFetchEngine, disposeDrivers, setDefaultEngine } from '@streams/downloader';
import { startHttpServer, type TestHttpServer } from '@streams/testkit';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/main.js';
import { cli, cliArgs, PLAIN, tempDir } from './helpers.js';

// Issue 11, messages: what a user reads when a command fails. A file that is no dataset says what
// it is and which formats are read; a full output directory names --overwrite; every error line
// carries exactly one "Fix:"; an HTTP 404 says 404.
let tmp: { dir: string } & AsyncDisposable;
let server: TestHttpServer;
let png: string;
let txt: string;

beforeAll(async () => {
  tmp = await tempDir('streams-messages-');
  await mkdir(join(tmp.dir, 'www'));
  png = join(tmp.dir, 'photo.png');
  await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } })
    .png()
    .toFile(png);
  txt = join(tmp.dir, 'notes.txt');
  await writeFile(txt, 'Remember to label the new photos\nand send them on Monday.\n');
  await writeFile(join(tmp.dir, 'www', 'ok.jsonl'), '{"i":0}\n');
  server = await startHttpServer({ root: join(tmp.dir, 'www') });
  setDefaultEngine(createFetchEngine({ maxAttempts: 2, backoffBaseMs: 1, backoffMaxMs: 5 }));
});

afterAll(async () => {
  await disposeDrivers();
  await server?.close();
  await tmp?.[Symbol.asyncDispose]();
});

/** The formats every "not a dataset" message lists. */
const FORMATS = ['mds', 'wds', 'jsonl', 'csv', 'table'];

function expectOneLineWithOneFix(err: string, what: string) {
  const lines = err.split('\n');
  expect(lines, `${what}: ${err}`).toHaveLength(2); // one line and its newline
  expect(lines[0]!.split('Fix: ').length - 1, `${what}: ${err}`).toBe(1);
}

describe('streams inspect of a file that is no dataset', () => {
  it('a PNG image: says it is one and lists the formats read', async () => {
    const r = await cli(['inspect', png]);
    expect(r.code, r.err).toBe(EXIT.usage);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/photo\.png is a PNG image, not a dataset\. Fix: point at a dataset/);
    for (const f of FORMATS) expect(r.err).toMatch(new RegExp(`[:;] ${f} \\(`));
    expectOneLineWithOneFix(r.err, 'inspect png');
  });

  it('a text file of prose, through the CLI process: says so, lists the formats, exits 2', async () => {
    // Read as a list file of paths before: inspect printed a one-row "table" and exited 0.
    const r = await promisify(execFile)(process.execPath, cliArgs(['inspect', txt])).then(
      (ok) => ({ code: 0, out: ok.stdout, err: ok.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        out: e.stdout,
        err: e.stderr,
      }),
    );
    expect(r.code, r.err).toBe(EXIT.usage);
    expect(r.out).toBe('');
    expect(r.err).toMatch(
      /^streams: STREAMS_INVALID_CONFIG: \[streams\/index\] \S*notes\.txt is a text file whose first line names no file \("Remember to label/,
    );
    for (const f of FORMATS) expect(r.err).toMatch(new RegExp(`[:;] ${f} \\(`));
    expectOneLineWithOneFix(r.err, 'inspect txt');
  }, 60_000);

  it('a list file of paths is still a dataset (an index table)', async () => {
    await writeFile(join(tmp.dir, 'images.txt'), 'photo.png\n');
    const r = await cli(['inspect', join(tmp.dir, 'images.txt'), '--json', '-q']);
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(JSON.parse(r.out)).toMatchObject({ format: 'table', count: 1 });
  });
});

describe('streams convert into an existing output', () => {
  it('names --overwrite, keeps what is there, and converts with --overwrite', async () => {
    const out = join(tmp.dir, 'converted');
    await mkdir(out);
    await writeFile(join(out, 'keep.txt'), 'mine');
    const r = await cli(['convert', PLAIN, out, '-q']);
    expect(r.code, r.err).toBe(EXIT.usage);
    expect(r.err).toMatch(/converted is not empty\. Fix: pass --overwrite /);
    expect(r.err).not.toMatch(/overwrite: true/);
    expectOneLineWithOneFix(r.err, 'convert');
    expect(await readdir(out)).toEqual(['keep.txt']);
    expect(await readFile(join(out, 'keep.txt'), 'utf8')).toBe('mine');

    const again = await cli(['convert', PLAIN, out, '-q', '--overwrite']);
    expect(again.code, again.err).toBe(EXIT.ok);
    expect(await readdir(out)).toContain('index.json');
  });
});

describe('every failing invocation prints one line with exactly one "Fix:"', () => {
  const cases: Array<{ what: string; argv: () => string[]; code: number; says: RegExp }> = [
    {
      what: 'missing local file',
      argv: () => ['cat', join(tmp.dir, 'absent.jsonl')],
      code: EXIT.error,
      says: /STREAMS_NOT_FOUND: .*absent\.jsonl does not exist/,
    },
    {
      what: 'HTTP 404',
      argv: () => ['cat', `${server.url}absent.jsonl`],
      code: EXIT.error,
      says: /STREAMS_NOT_FOUND: .*\b404\b/,
    },
    {
      what: 'HTTP 404 of an MDS index',
      argv: () => ['inspect', `${server.url}absent/index.json`],
      code: EXIT.error,
      says: /STREAMS_NOT_FOUND: .*\b404\b/,
    },
    {
      what: 'unknown --format',
      argv: () => ['cat', PLAIN, '--format', 'parquet2'],
      code: EXIT.usage,
      says: /--format "parquet2" is unknown/,
    },
    {
      what: 'wrong --format for the data',
      argv: () => ['cat', `${server.url}ok.jsonl`, '--format', 'mds'],
      code: EXIT.error,
      says: /STREAMS_/,
    },
    {
      what: 'unknown flag',
      argv: () => ['inspect', PLAIN, '--lables', 'x'],
      code: EXIT.usage,
      says: /Unknown option '--lables'/,
    },
    {
      what: 'a number flag given a word',
      argv: () => ['cat', PLAIN, '--offset', 'ten'],
      code: EXIT.usage,
      says: /--offset="ten" is not a number/,
    },
    {
      what: 'a column no sample has',
      argv: () => ['cat', PLAIN, '--columns', 'nope'],
      code: EXIT.usage,
      says: /column "nope" is not in the dataset/,
    },
    {
      what: 'a PNG given to cat',
      argv: () => ['cat', png],
      code: EXIT.usage,
      says: /is a PNG image, not a dataset/,
    },
    {
      what: 'unknown command',
      argv: () => ['inpsect', PLAIN],
      code: EXIT.usage,
      says: /unknown command "inpsect"/,
    },
  ];
  it.each(cases.map((c) => [c.what, c] as const))('%s', async (_what, c) => {
    const r = await cli(c.argv());
    expect(r.code, r.err).toBe(c.code);
    expect(r.err).toMatch(c.says);
    expectOneLineWithOneFix(r.err, c.what);
  });
});
