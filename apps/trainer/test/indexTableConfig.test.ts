// The trainer's index-table stream options (urlColumns, columnsToDownload) reach the dataset: a
// table with an image column and a thumbnail column that the server does not have trains when
// only the image column is fetched (no request ever asks for a thumbnail), and fails on the
// thumbnails when every URL column is.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHttpServer } from '@streams/testkit';
import { expect, it } from 'vitest';
import { cli, tempDir, writeDigitPngs } from './helpers.js';

it(
  'columnsToDownload in a stream config fetches only the named URL columns',
  {
    timeout: 240_000,
  },
  async () => {
    await using tmp = await tempDir();
    const rows = ['url,thumb,label'];
    for (const d of await writeDigitPngs(tmp.dir, 64))
      rows.push(`${d.file},thumbs/${d.file},${d.label}`);
    await writeFile(join(tmp.dir, 'train.csv'), `${rows.join('\n')}\n`);
    await using http = await startHttpServer({ root: tmp.dir });
    const config = (fetch: string) => `name: table-columns
seed: 0
numClasses: 10
streams:
  - name: images
    url: ${http.url}train.csv
    format: table
    urlColumns: [url, thumb]
${fetch}    input: url
    label: label
    transform: { preset: image, size: 28, channels: 1 }
data: { batchSize: 16, cacheDir: ${join(tmp.dir, 'cache')} }
experiences: { kind: windows, windows: 1, stepsPerWindow: 3 }
learners:
  - name: naive
    optimizer: { name: sgd, lr: 0.1 }
train: { epochs: 1 }
report: { png: false }
`;
    const run = async (name: string, fetch: string) => {
      const file = join(tmp.dir, `${name}.yaml`);
      await writeFile(file, config(fetch));
      return cli([
        'train',
        '--config',
        file,
        '--quiet',
        '--out',
        join(tmp.dir, name),
        '--data-dir',
        join(tmp.dir, 'data'),
      ]);
    };
    const thumbs = () => http.requests.filter((q) => q.path.startsWith('/thumbs/'));
    const only = await run('only', '    columnsToDownload: [url]\n');
    expect(only.err).toBe('');
    expect(only.code).toBe(0);
    expect(http.requests.some((q) => /^\/d\d+\.png$/.test(q.path))).toBe(true);
    expect(thumbs()).toEqual([]);
    // The control: with every URL column fetched, the missing thumbnails are asked for and fail.
    const all = await run('all', '');
    expect(all.code).not.toBe(0);
    expect(all.err).toContain('STREAMS_NOT_FOUND');
    expect(thumbs().length).toBeGreaterThan(0);
  },
);
