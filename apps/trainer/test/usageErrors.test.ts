import { describe, expect, it } from 'vitest';
import type { Arity, Command } from '../src/commands.js';
import { EXIT } from '../src/main.js';
import { commands } from '../src/registry.js';
import { cli } from './helpers.js';

// Issue 11: every usage error, of every command and subcommand, exits 2 with one line on stderr
// that names the problem. The cases come from the registry, so a new command is covered as soon as
// it is listed there (and declares what it needs: `args`, `required`, `subcommands`).

interface Case {
  what: string;
  argv: string[];
  /** What the one line must name. */
  names: RegExp;
}

/** Placeholder values: no case gets as far as reading them. */
const fill = (names: readonly string[] = []) => names.map((n) => `x-${n}`);
const flagArgs = (names: readonly string[] = []) => names.flatMap((n) => [`--${n}`, `x-${n}`]);
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A flag given a value it cannot take: a word for a number, a value for a switch. */
function badValue(c: Command, skip: readonly string[] = []): { argv: string[]; flag: string } {
  const flags = Object.entries(c.flags).filter(([name]) => !skip.includes(name));
  const number = flags.find(([, s]) => s.type === 'number');
  if (number) return { argv: [`--${number[0]}`, 'many'], flag: number[0] };
  const boolean = flags.find(([, s]) => s.type === 'boolean');
  if (boolean) return { argv: [`--${boolean[0]}=yes`], flag: boolean[0] };
  throw new Error(`${c.name} has no number or boolean flag to give a bad value`);
}

/** The cases of one command, or of one of its subcommands (`prefix` then holds its name). */
function casesOf(c: Command, prefix: string[], arity: Arity): Case[] {
  const label = ['streams', c.name, ...prefix].join(' ');
  const args = fill(arity.args);
  const required = flagArgs(arity.required);
  const cases: Case[] = [];
  for (let k = 0; k < (arity.args ?? []).length; k++)
    cases.push({
      what: `${label}: <${arity.args![k]}> missing`,
      argv: [c.name, ...prefix, ...args.slice(0, k), ...required],
      names: new RegExp(`"${literal(label)}" needs <${literal(arity.args![k]!)}>`),
    });
  for (const flag of arity.required ?? [])
    cases.push({
      what: `${label}: --${flag} missing`,
      argv: [c.name, ...prefix, ...args, ...flagArgs(arity.required?.filter((f) => f !== flag))],
      names: new RegExp(`"${literal(label)}" needs --${literal(flag)}\\b`),
    });
  const bad = badValue(c, arity.required);
  cases.push({
    what: `${label}: --${bad.flag} with a bad value`,
    argv: [c.name, ...prefix, ...args, ...required, ...bad.argv],
    names: new RegExp(`--${literal(bad.flag)}\\b`),
  });
  return cases;
}

async function allCases(): Promise<Case[]> {
  const cases: Case[] = [];
  for (const entry of commands) {
    const c = await entry.load();
    if (!c.subcommands) cases.push(...casesOf(c, [], c));
    else {
      const names = Object.keys(c.subcommands);
      cases.push(
        {
          what: `streams ${c.name}: subcommand missing`,
          argv: [c.name],
          names: new RegExp(`needs a subcommand: ${names.map((n) => `"${n}"`).join(' or ')}`),
        },
        {
          what: `streams ${c.name}: unknown subcommand`,
          argv: [c.name, 'frobnicate'],
          names: new RegExp(`"streams ${c.name} frobnicate" is no subcommand`),
        },
      );
      for (const [sub, arity] of Object.entries(c.subcommands))
        cases.push(...casesOf(c, [sub], arity));
    }
  }
  return cases;
}

/** Semantic bad values, each checked by the command itself (positionals that exist, so only the flag is wrong). */
const REF = new URL('../../../packages/testkit/fixtures/mds-reference/plain', import.meta.url)
  .pathname;
const SEMANTIC: Case[] = [
  { what: 'cat --format', argv: ['cat', REF, '--format', 'nope'], names: /--format "nope"/ },
  { what: 'cat --limit -1', argv: ['cat', REF, '--limit=-1'], names: /--limit must be/ },
  {
    what: 'cat --invalid-utf8',
    argv: ['cat', REF, '--invalid-utf8', 'skip'],
    names: /--invalid-utf8 "skip"/,
  },
  {
    what: 'cat --cache-limit',
    argv: ['cat', REF, '--cache-limit', 'lots'],
    names: /--cache-limit: "lots" is not a byte size/,
  },
  {
    what: 'inspect --max-line-bytes',
    argv: ['inspect', REF, '--max-line-bytes', 'wide'],
    names: /--max-line-bytes: "wide"/,
  },
  {
    what: 'convert --format',
    argv: ['convert', REF, 'x-out', '--format', 'zip'],
    names: /--format "zip" is not mds or wds/,
  },
  {
    what: 'convert --encodings',
    argv: ['convert', REF, 'x-out', '--encodings', 'label'],
    names: /--encodings entry "label"/,
  },
  {
    what: 'index build --val-ratio',
    argv: ['index', 'build', '--sql', 'SELECT 1', '--out', 'x.parquet', '--val-ratio', '2'],
    names: /--val-ratio 2 is not a fraction/,
  },
  {
    what: 'signals --steps 0',
    argv: ['signals', '--dataset', 'mnist', '--steps', '0'],
    names: /--steps 0/,
  },
  {
    what: 'signals --out .gif',
    argv: ['signals', '--dataset', 'mnist', '--out', 'x.gif'],
    names: /--out x\.gif/,
  },
  { what: 'cat --limit (no value)', argv: ['cat', REF, '--limit'], names: /--limit/ },
  { what: 'cat --no-such-flag', argv: ['cat', REF, '--no-such-flag'], names: /--no-such-flag/ },
  { what: 'setup-tf with an argument', argv: ['setup-tf', 'x.whl'], names: /"x\.whl"/ },
];

function expectUsageError(r: { code: number; out: string; err: string }, c: Case) {
  expect(r.code, `${c.what}: ${r.err}`).toBe(EXIT.usage);
  expect(r.out, c.what).toBe('');
  const lines = r.err.split('\n');
  expect(lines, c.what).toHaveLength(2); // one line and its newline
  expect(lines[0], c.what).toMatch(/^streams: STREAMS_INVALID_CONFIG: \[streams\/[a-z]+\] /);
  expect(lines[0], c.what).toMatch(c.names);
  expect(lines[0]!.split('Fix: ').length - 1, c.what).toBe(1);
}

describe('usage errors exit 2 with one line naming the problem', () => {
  it('for every command and subcommand of the registry: positional, required flag, bad value', async () => {
    const cases = await allCases();
    // Every command contributes at least its bad-value case; those that need things, more.
    expect(cases.length).toBeGreaterThanOrEqual(commands.length + 7);
    const seen = new Set(cases.map((c) => c.argv[0]));
    expect([...seen].sort()).toEqual(commands.map((c) => c.name).sort());
    for (const c of cases) expectUsageError(await cli(c.argv), c);
  }, 60_000);

  it.each(SEMANTIC.map((c) => [c.what, c] as const))('%s', async (_what, c) => {
    expectUsageError(await cli(c.argv), c);
  });
});
