import { describe, expect, it } from 'vitest';
import { sink } from '../test/helpers.js';
import { EXIT, main } from './main.js';

async function run(argv: string[]) {
  const out = sink();
  const err = sink();
  const code = await main(argv, out.stream, err.stream);
  return { code, out: out.text(), err: err.text() };
}

describe('streams CLI', () => {
  it('prints help listing the commands', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/Usage: streams <command>/);
    expect(r.out).toMatch(/train/);
  });

  it("prints a command's options in aligned columns", async () => {
    const r = await run(['cat', '--help']);
    expect(r.code).toBe(EXIT.ok);
    const options = r.out.split('\n').filter((l) => l.startsWith('  --'));
    expect(options.length).toBeGreaterThan(3);
    expect(options.find((l) => l.includes('--limit <number>'))).toMatch(
      /print at most this many samples/,
    );
    const columns = new Set(options.map((l) => l.indexOf(l.trim().split(/ {2,}/)[1] ?? '\0')));
    expect(columns.size).toBe(1);
  });

  it('rejects unknown commands and flags with a usage exit code', async () => {
    expect((await run(['frobnicate'])).code).toBe(EXIT.usage);
    const r = await run(['train', '--no-such-flag']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/no-such-flag/);
  });

  it('train does not pretend: it fails with a clear coded error until the trainer lands', async () => {
    const r = await run(['train']);
    expect(r.code).toBe(EXIT.error);
    expect(r.err).toMatch(/STREAMS_NOT_IMPLEMENTED/);
    expect(r.out).toBe('');
  });
});
