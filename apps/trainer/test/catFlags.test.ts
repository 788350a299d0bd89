import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/main.js';
import { cli, jsonLines, PLAIN, tempDir } from './helpers.js';

describe('streams cat --columns and --validate are never silently ignored', () => {
  it('--columns keeps the named columns of every format, and a column no sample has is a usage error', async () => {
    await using tmp = await tempDir();
    const csv = join(tmp.dir, 'rows.csv');
    const jsonl = join(tmp.dir, 'rows.jsonl');
    await writeFile(csv, 'id,label,url\n1,0,a.png\n2,1,b.png\n');
    await writeFile(jsonl, '{"id":1,"label":0}\n{"id":2,"label":1,"extra":true}\n');
    for (const [url, extra] of [
      [csv, []],
      [csv, ['--format', 'table']],
      [jsonl, []],
    ] as const) {
      const ok = await cli(['cat', url, '--columns', 'label', '-q', ...extra]);
      expect(ok.code, ok.err).toBe(EXIT.ok);
      expect(jsonLines(ok.out)).toEqual([{ label: 0 }, { label: 1 }]);
      const bad = await cli(['cat', url, '--columns', 'label,lable', '-q', ...extra]);
      expect(bad.code).toBe(EXIT.usage);
      expect(bad.err).toMatch(
        /STREAMS_INVALID_CONFIG: .*--columns names "lable", which none of the 2 samples read has.*Fix: choose among/,
      );
    }
    // A column only some JSONL lines have is kept where present.
    const sparse = await cli(['cat', jsonl, '--columns', 'extra', '-q']);
    expect(sparse.code).toBe(EXIT.ok);
    expect(jsonLines(sparse.out)).toEqual([{}, { extra: true }]);

    const mds = await cli(['cat', PLAIN, '--columns', 'nope', '--limit', '3', '-q']);
    expect(mds.code).toBe(EXIT.usage);
    // MDS knows its columns: refused before anything is printed.
    expect(mds.out).toBe('');
    expect(mds.err).toMatch(/column "nope" is not in the dataset. Fix: choose among blob, /);
  }, 60_000);

  it('--validate checks MDS shard hashes, and is a usage error for formats whose index lists none', async () => {
    const mds = await cli(['cat', PLAIN, '--validate', '--limit', '2', '-q']);
    expect(mds.code).toBe(EXIT.ok);
    expect(jsonLines(mds.out)).toHaveLength(2);
    await using tmp = await tempDir();
    const jsonl = join(tmp.dir, 'rows.jsonl');
    await writeFile(jsonl, '{"id":1}\n');
    const bad = await cli(['cat', jsonl, '--validate']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.out).toBe('');
    expect(bad.err).toMatch(
      /--validate checks the shard hashes an index lists, and a jsonl dataset lists none/,
    );
  }, 60_000);
});
