import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { fileDriver } from '../src/drivers/file.js';
import { testDriver } from './driverSuite.js';

let dir = '';
testDriver({
  name: 'file',
  async setup() {
    dir = await mkdtemp(join(tmpdir(), 'streams-file-driver-'));
    return { driver: fileDriver(), base: `${pathToFileURL(dir).href}/` };
  },
  teardown: () => rm(dir, { recursive: true, force: true }),
  extraTests(ctx) {
    it('takes plain paths as well as file: URLs', async () => {
      const d = ctx().driver;
      await d.put(join(dir, 'plain.txt'), new TextEncoder().encode('plain'));
      expect((await d.stat(join(dir, 'plain.txt'))).size).toBe(5);
      expect((await d.list(`${dir}/pla`)).map((e) => e.key.split('/').pop())).toEqual([
        'plain.txt',
      ]);
    });
  },
});
