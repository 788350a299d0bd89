import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../src/progressBar.js';
import { cli, cliArgs, jsonLines, PLAIN, tempDir, ttySink } from './helpers.js';

const stream = (isTTY: boolean) => {
  const t = ttySink(isTTY);
  return { s: t.stream, text: t.text };
};

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1);

describe('progress of the data commands', () => {
  it('writes periodic plain lines and a final one off a TTY, a bar on a TTY, nothing when quiet', () => {
    const plain = stream(false);
    const p = new ProgressBar(plain.s, 'cat', { intervalMs: 0 });
    p.update(1, 4, 0);
    p.update(2, 4, 2048);
    p.done(4, 4, 4096);
    p.update(5, 4, 0); // after the end: ignored
    const lines = plain.text().trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^cat \[#{8}\.{22}\] {2}25% 1\/4 \([\d,]+ samples\/s\)$/);
    expect(lines[1]).toMatch(/^cat \[#{15}\.{15}\] {2}50% 2\/4, 2\.0 KiB /);
    expect(lines[2]).toMatch(/^cat \[#{30}\] 100% 4\/4, 4\.0 KiB /);

    const unknown = stream(false);
    new ProgressBar(unknown.s, 'index validate', { unit: 'rows' }).done(7, undefined, 0);
    expect(unknown.text()).toMatch(/^index validate 7 rows \([\d,]+ rows\/s\)\n$/);

    const tty = stream(true);
    const t = new ProgressBar(tty.s, 'inspect');
    t.update(40, 100, 0);
    t.done(100, 100, 0);
    expect(tty.text()).toMatch(/inspect \[#{30}\] 100% 100\/100/);

    const quiet = stream(false);
    const q = new ProgressBar(quiet.s, 'cat', { quiet: true, intervalMs: 0 });
    q.update(1, 2, 0);
    q.done(2, 2, 0);
    const stopped = stream(false);
    const st = new ProgressBar(stopped.s, 'cat', { intervalMs: 60_000 });
    st.update(1, 2, 0);
    st.stop();
    st.done(2, 2, 0);
    expect(quiet.text() + stopped.text()).toBe('');
  });

  it('streams cat with stderr piped: the data on stdout, the progress on stderr, nothing with --quiet', async () => {
    const run = (extra: string[]) =>
      promisify(execFile)(process.execPath, cliArgs(['cat', PLAIN, '--limit', '5', ...extra]));
    const piped = await run([]);
    expect(jsonLines(piped.stdout)).toHaveLength(5);
    expect(lastLine(piped.stderr)).toMatch(/^cat \[#{30}\] 100% 5\/5 \([\d,]+ samples\/s\)$/);
    const quiet = await run(['--quiet']);
    expect(quiet.stdout).toBe(piped.stdout);
    expect(quiet.stderr).toBe('');
  }, 60_000);

  it('streams inspect and index build report progress on stderr, not stdout', async () => {
    const inspect = await cli(['inspect', PLAIN, '--json']);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.out).count).toBe(1000);
    expect(lastLine(inspect.err)).toMatch(/^inspect \[#{30}\] 100% 1,000\/1,000 /);
    expect((await cli(['inspect', PLAIN, '--json', '-q'])).err).toBe('');

    await using tmp = await tempDir();
    const meta = join(tmp.dir, 'meta.csv');
    await writeFile(meta, 'url,label\na.png,0\nb.png,1\nc.png,2\n');
    const out = join(tmp.dir, 'index.parquet');
    const sql = `SELECT * FROM read_csv('${meta}')`;
    const build = await cli(['index', 'build', '--sql', sql, '--out', out]);
    expect(build.code).toBe(0);
    expect(JSON.parse(build.out)).toMatchObject({ rows: 3, out });
    expect(lastLine(build.err)).toMatch(/^index build \[#{30}\] 100% 3\/3 \([\d,]+ rows\/s\)$/);
    const quiet = await cli(['index', 'build', '--sql', sql, '--out', out, '--quiet']);
    expect(quiet.code).toBe(0);
    expect(quiet.err).toBe('');
  }, 60_000);
});
