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

  it('maps bad config to exit 2 with one line, and shows the stack only with --verbose', async () => {
    const r = await run(['train', '--set', 'train.epochs=zero']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(
      /STREAMS_INVALID_CONFIG.*train\.epochs: expected number, found string "zero"/,
    );
    const v = await run(['train', '--set', 'train.epochs=zero', '--verbose']);
    expect(v.code).toBe(EXIT.usage);
    expect(v.err).toMatch(/\n\s+at /);
  });
});
