import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFetchEngine, disposeDrivers, setDefaultEngine } from '@streams/downloader';
import { startHttpServer, type TestHttpServer } from '@streams/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { sink } from './helpers.js';

// The CLI entry points fuzzed with what users and hostile servers hand them: malformed URLs, deep
// nesting, odd sizes. Whatever comes in, what comes out is a result (0), a StreamsError (1) or a
// usage error (2), never an internal error (70).
let dir: string;
let server: TestHttpServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streams-cli-fuzz-'));
  await mkdir(join(dir, 'www'), { recursive: true });
  server = await startHttpServer({ root: join(dir, 'www') });
  // Failed transfers are retried once, without long backoffs: the fuzz fails fast.
  setDefaultEngine(createFetchEngine({ maxAttempts: 2, backoffBaseMs: 1, backoffMaxMs: 5 }));
});

afterAll(async () => {
  await disposeDrivers();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; err: string; out: string }> {
  const out = sink();
  const err = sink();
  const code = await main(argv, out.stream, err.stream);
  return { code, err: err.text(), out: out.text() };
}

function expectClean(r: { code: number; err: string }, argv: string[]) {
  expect(r.err, argv.join(' ')).not.toMatch(/internal error/);
  expect([0, 1, 2], `${argv.join(' ')}: ${r.err}`).toContain(r.code);
  if (r.code === 1) expect(r.err).toMatch(/^streams: STREAMS_[A-Z_]+: /m);
}

describe('the CLI under fuzzed input', () => {
  it('an unparsable URL is STREAMS_INVALID_URL', async () => {
    for (const url of [
      'http://127.0.0.1:99999/d.jsonl',
      'http://[zz/x.csv',
      'file://h:1/x.jsonl',
    ]) {
      const r = await run(['cat', url]);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(/STREAMS_INVALID_URL/);
    }
  });

  it('URLs: schemes, hosts, ports and paths', async () => {
    const port = server.port;
    const url = fc
      .tuple(
        fc.constantFrom(
          'http://',
          'https://',
          'HTTP://',
          'file://',
          'file:',
          'ftp://',
          'a+b://',
          'http:',
          '//',
          '',
        ),
        fc.constantFrom(
          `127.0.0.1:${port}`,
          `user:pw@127.0.0.1:${port}`,
          '127.0.0.1:99999',
          '127.0.0.1:65536',
          '127.0.0.1:-1',
          '[::1',
          '[zz]',
          '%zz',
          'a b',
          '',
        ),
        fc.string({ unit: fc.constantFrom(...'/a.b?#%{}*,\\ 9'.split('')), maxLength: 16 }),
        fc.constantFrom(
          '',
          '.jsonl',
          '.csv',
          '.tar',
          '/index.json',
          '.parquet',
          '.txt',
          '{0..2}.tar',
          '*.csv',
        ),
      )
      .map(([scheme, host, path, ext]) => `${scheme}${host}/${path}${ext}`);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('cat', 'inspect'), url, async (command, u) => {
        expectClean(await run([command, u]), [command, u]);
      }),
      { numRuns: 120, seed: 16 },
    );
  }, 120_000);

  it('nesting and sizes: deep JSONL, odd flags, local and remote, through cat, inspect and convert', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 120_000 }),
        fc.constantFrom('[', '{"a":'),
        fc.constantFrom('local', 'remote'),
        fc.constantFrom('cat', 'inspect', 'convert-mds', 'convert-wds'),
        fc.array(
          fc.tuple(
            fc.constantFrom('--limit', '--offset', '--max-line-bytes', '--size-limit', '--columns'),
            fc.oneof(fc.integer({ min: -5, max: 1e12 }).map(String), fc.string({ maxLength: 6 })),
          ),
          { maxLength: 2 },
        ),
        async (depth, open, where, command, flags) => {
          const name = `deep-${k++}.jsonl`;
          const close = open === '[' ? ']' : '}';
          await writeFile(
            join(dir, 'www', name),
            `{"i":0}\n{"x":${open.repeat(depth)}1${close.repeat(depth)}}\n`,
          );
          const src = where === 'local' ? join(dir, 'www', name) : `${server.url}${name}`;
          const [cmd, format] = command.split('-') as [string, string | undefined];
          const allowed = (f: string) =>
            cmd === 'convert'
              ? f === '--size-limit' || f === '--max-line-bytes'
              : f !== '--size-limit';
          const extra = flags.filter(([f]) => allowed(f)).flat();
          const argv =
            cmd === 'convert'
              ? ['convert', src, join(dir, `out-${k}`), '--format', format as string, ...extra]
              : [cmd, src, ...extra];
          expectClean(await run(argv), argv);
        },
      ),
      { numRuns: 60, seed: 16 },
    );
  }, 180_000);
});
