import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMdsDataset } from '../src/mdsDataset.js';
import { toJsonValue } from '../src/sampleJson.js';
import { MDS_REFERENCE, tempDir } from './fixtures.js';

// Shards compressed by the standard command-line tools (zstd reading a pipe writes frames without a
// content size, as streaming compressors do), to prove the readers are not tied to our own writer.
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(() => tmp.cleanup());

async function compressWith(tool: string, args: string[], input: Uint8Array): Promise<Uint8Array> {
  const { spawn } = await import('node:child_process');
  const child = spawn(tool, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stdin.end(input);
  const code = await new Promise<number | null>((ok) => child.on('close', ok));
  if (code !== 0) throw new Error(`${tool} exited with ${code}`);
  return new Uint8Array(Buffer.concat(chunks));
}

describe('MDS shards compressed by gzip, bzip2 and zstd tools', () => {
  for (const [family, tool, args] of [
    ['gz', 'gzip', ['-9', '-c']],
    ['bz2', 'bzip2', ['-9', '-c']],
    ['zstd', 'zstd', ['-q', '-c', '-']],
  ] as const) {
    it(`reads ${family} shards written by ${tool}`, async () => {
      const dir = join(tmp.dir, family);
      await mkdir(dir, { recursive: true });
      const index = JSON.parse(await readFile(join(MDS_REFERENCE, 'plain', 'index.json'), 'utf8'));
      for (const shard of index.shards) {
        const raw = new Uint8Array(
          await readFile(join(MDS_REFERENCE, 'plain', shard.raw_data.basename)),
        );
        const zipped = await compressWith(tool, [...args], raw);
        const basename = `${shard.raw_data.basename}.${family}`;
        await writeFile(join(dir, basename), zipped);
        shard.compression = family;
        shard.zip_data = { basename, bytes: zipped.length, hashes: {} };
      }
      await writeFile(join(dir, 'index.json'), JSON.stringify(index));
      const expected = JSON.parse(
        await readFile(join(MDS_REFERENCE, 'expected.json'), 'utf8'),
      ).plain;
      await using ds = await openMdsDataset(dir);
      let i = 0;
      for await (const batch of ds.sampleBatches())
        for (const s of batch) expect(toJsonValue(s)).toEqual(expected.samples[i++]);
      expect(i).toBe(1000);
    });
  }
});
