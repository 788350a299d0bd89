import { access, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createFetchEngine } from '../src/fetchEngine.js';
import { sweepPartialFiles } from '../src/landing.js';
import { startDripping } from './dripping.js';
import { testBytes } from './driverSuite.js';
import { spawnTs } from './spawnTs.js';

it(
  'kill -9 mid-download leaves no file at dest, only a temp file that sweepPartialFiles removes',
  { timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'streams-kill-'));
    try {
      const data = testBytes(64_000, 2);
      await writeFile(join(dir, 'slow.bin'), data);
      // Every response drips in 16 pieces, 300 ms apart: the child is mid-body for seconds.
      await using dripping = await startDripping(dir, 300);
      const { server, proxy } = dripping;
      const out = join(dir, 'out');
      const dest = join(out, 'slow.bin');
      const { child, exited, stderr } = spawnTs('killChild.ts', [`${proxy.url}/slow.bin`, dest]);
      // Wait (bounded) until the child has bytes on disk in its temp file.
      let part: string | undefined;
      for (let i = 0; i < 400 && !part; i++) {
        await new Promise((r) => setTimeout(r, 25));
        const names = await readdir(out).catch(() => [] as string[]);
        const candidate = names.find((n) => n.endsWith('.part'));
        if (candidate && (await stat(join(out, candidate))).size > 0) part = candidate;
        if (child.exitCode !== null) break;
      }
      expect(part, stderr()).toBeDefined();
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      await expect(access(dest)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await readdir(out)).toEqual([part]);
      expect(await sweepPartialFiles(out)).toEqual([part]);
      expect(await readdir(out)).toEqual([]);
      proxy.setRate(0);
      await createFetchEngine({ seed: 1 }).download(`${server.url}slow.bin`, dest);
      expect(Buffer.from(await readFile(dest)).equals(Buffer.from(data))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
