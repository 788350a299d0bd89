import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { importOptional, rng, StreamsError, throwIfAborted } from '@streams/core';
import { getDriver } from '@streams/downloader';
import type { ByteSource } from './byteSource.js';
import { RoutingByteSource } from './routingByteSource.js';
import { globToRegExp } from './shardList.js';
import { basenameUrl, dirnameUrl, isRemoteUrl, joinUrl, toLocalPath } from './urls.js';

/** Options of {@link buildIndex}. */
export interface BuildIndexOptions {
  /** A DuckDB query producing one row per sample, e.g. `SELECT * FROM read_parquet('meta/*.parquet') WHERE aes_score > 4`. */
  sql: string;
  /** Train index path or URL (`s3:`, `gs:`, `http(s):`, uploaded through the downloader), `.parquet`, `.csv`, `.tsv` or `.jsonl` by extension. */
  out: string;
  /** Fraction of rows held out for validation (default 0: no validation index). */
  valRatio?: number;
  /** Cap on validation rows. */
  maxValRows?: number;
  /** Seed of the validation split (default 0): same seed, same split. */
  seed?: number;
  /** Validation index path (default: `<out stem>.val<ext>`). */
  valOut?: string;
  signal?: AbortSignal;
  /** Used to fetch remote files the query names (default: local files, remote through the downloader). */
  source?: ByteSource;
}

/** What {@link buildIndex} wrote. */
export interface BuildIndexResult {
  rows: number;
  trainRows: number;
  valRows: number;
  out: string;
  valOut: string | undefined;
}

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * Fetches remote files named in string literals of the query (`'s3://b/meta/*.parquet'`) into
 * `dir` and rewrites the literals to local paths: DuckDB's network extensions are not available offline.
 */
async function localizeRemoteInputs(
  sql: string,
  dir: string,
  source: ByteSource,
  signal?: AbortSignal,
): Promise<string> {
  const literals = [...sql.matchAll(/'((?:[^']|'')*)'/g)];
  let out = '';
  let last = 0;
  let n = 0;
  for (const m of literals) {
    const value = (m[1] ?? '').replaceAll("''", "'");
    out += sql.slice(last, m.index);
    last = (m.index ?? 0) + m[0].length;
    if (!isRemoteUrl(value)) {
      out += m[0];
      continue;
    }
    const name = basenameUrl(value);
    let urls = [value];
    if (/[*?]/.test(name)) {
      const re = globToRegExp(name);
      urls = (await source.list(dirnameUrl(value), { signal })).filter((u) =>
        re.test(basenameUrl(u)),
      );
      if (urls.length === 0)
        throw new StreamsError('STREAMS_NOT_FOUND', `[streams/index] no file matches ${value}`, {
          url: value,
          fix: 'check the pattern in the query',
        });
    }
    const locals: string[] = [];
    for (const u of urls) {
      throwIfAborted(signal);
      const local = join(dir, `${n++}-${basenameUrl(u)}`);
      await writeFile(local, await source.read(u, { signal }));
      locals.push(local);
    }
    out +=
      locals.length === 1
        ? sqlString(locals[0] as string)
        : `[${locals.map(sqlString).join(', ')}]`;
  }
  return out + sql.slice(last);
}

function copyFormat(path: string): string {
  const ext = extname(path).toLowerCase();
  if (ext === '.parquet') return '(FORMAT parquet)';
  if (ext === '.csv') return '(FORMAT csv, HEADER true)';
  if (ext === '.tsv') return "(FORMAT csv, HEADER true, DELIMITER '\t')";
  if (ext === '.json' || ext === '.jsonl' || ext === '.ndjson') return '(FORMAT json)';
  throw new StreamsError(
    'STREAMS_INVALID_ARGUMENT',
    `[streams/index] cannot write an index as "${ext}"`,
    {
      fix: 'name the output .parquet, .csv, .tsv or .jsonl',
    },
  );
}

/** Throws unless `path` names an index file {@link buildIndex} can write (`.parquet`, `.csv`, `.tsv`, `.jsonl`). */
export function checkIndexOut(path: string): void {
  copyFormat(path);
}

/**
 * Builds a train index (and a validation index) from a DuckDB query, offline. The validation rows
 * are a seeded random choice of `min(round(rows * valRatio), maxValRows)` rows; both outputs keep the
 * query's row order.
 */
export async function buildIndex(options: BuildIndexOptions): Promise<BuildIndexResult> {
  const { sql, signal } = options;
  const valRatio = options.valRatio ?? 0;
  if (!(valRatio >= 0 && valRatio < 1))
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/index] valRatio ${valRatio} is outside [0, 1)`,
      {
        fix: 'give a fraction such as 0.1',
      },
    );
  // A remote output (s3:, gs:, http(s):) is written locally, then uploaded through its driver.
  const place = (url: string) => (isRemoteUrl(url) ? url : toLocalPath(url));
  const out = place(options.out);
  const name = basenameUrl(out);
  const ext = extname(name);
  const stem = ext === '' ? name : name.slice(0, -ext.length);
  const valOut =
    valRatio > 0
      ? place(options.valOut ?? joinUrl(dirnameUrl(out), `${stem}.val${ext}`))
      : undefined;
  copyFormat(out);
  // Before anything that needs cleaning up: DuckDB is an optional peer.
  const { DuckDBInstance } = await importOptional(
    '@duckdb/node-api',
    () => import('@duckdb/node-api'),
    {
      by: '@streams/index',
      feature: 'buildIndex (streams index build)',
    },
  );
  const source = options.source ?? new RoutingByteSource();
  const work = await mkdtemp(join(tmpdir(), 'streams-index-build-'));
  const db = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const con = await db.connect();
  const onAbort = () => con.interrupt();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const query = await localizeRemoteInputs(sql, work, source, signal);
    throwIfAborted(signal);
    try {
      // A table keeps the query's order; its rowid numbers the rows for the split.
      await con.run(`CREATE TABLE __streams_index AS ${query}`);
    } catch (cause) {
      throwIfAborted(signal);
      throw new StreamsError(
        'STREAMS_INDEX_INVALID',
        `[streams/index] the index query failed: ${(cause as Error)?.message ?? String(cause)}`,
        { cause, fix: 'check the SQL (DuckDB dialect; local paths or s3/gs/http URLs in quotes)' },
      );
    }
    const count = await con.runAndReadAll('SELECT count(*) AS n FROM __streams_index');
    const rows = Number((count.getRowObjects()[0] as { n: bigint }).n);
    let valRows = Math.round(rows * valRatio);
    if (options.maxValRows !== undefined) valRows = Math.min(valRows, options.maxValRows);
    if (valRatio > 0 && rows > 1) valRows = Math.min(Math.max(valRows, 1), rows - 1);
    await con.run('CREATE TABLE __streams_val (r BIGINT)');
    if (valRows > 0) {
      const chosen = rng(options.seed ?? 0, 'index-build', 'val-split').sample(rows, valRows);
      const appender = await con.createAppender('__streams_val');
      for (const r of chosen) {
        appender.appendBigInt(BigInt(r));
        appender.endRow();
      }
      appender.closeSync();
    }
    throwIfAborted(signal);
    const write = async (path: string, where: string) => {
      const remote = isRemoteUrl(path);
      const file = basenameUrl(path);
      const dir = remote ? work : dirname(path);
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `.${file}.tmp-${process.pid}${extname(file)}`);
      await con.run(
        `COPY (SELECT * FROM __streams_index WHERE ${where} ORDER BY rowid) TO ${sqlString(tmp)} ${copyFormat(path)}`,
      );
      if (!remote) return rename(tmp, path);
      // The store's own put is atomic: readers see the old object or the whole new one.
      const { size } = await stat(tmp);
      await getDriver(path).put(path, createReadStream(tmp), { size, signal });
    };
    const valSet = 'rowid IN (SELECT r FROM __streams_val)';
    await write(out, `NOT (${valSet})`);
    if (valOut) await write(valOut, valSet);
    return { rows, trainRows: rows - valRows, valRows, out, valOut };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    con.closeSync();
    db.closeSync();
    if (options.source === undefined) await source.close();
    await rm(work, { recursive: true, force: true });
  }
}
