import { parseArgs } from 'node:util';
import { isAbortError, isStreamsError, StreamsError } from '@streams/core';
import type { Arity, Command, FlagSpec } from './commands.js';
import { commands } from './registry.js';
import { versionLine } from './version.js';

/** Exit codes: 0 success, 1 runtime failure, 2 bad config or usage, 130 interrupted. */
export const EXIT = { ok: 0, error: 1, usage: 2, aborted: 130 } as const;

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  // --verbose anywhere: errors print their stack and causes.
  const verbose = argv.includes('--verbose');
  const [name, ...rest] = argv.filter((a) => a !== '--verbose');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out.write(help());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version') {
    out.write(versionLine());
    return EXIT.ok;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    err.write(
      `streams: STREAMS_INVALID_CONFIG: [streams/trainer] unknown command "${name}". Fix: run "streams --help" for the list\n`,
    );
    return EXIT.usage;
  }
  const command = await entry.load();
  // Ctrl-C or SIGTERM aborts the command's signal, so it closes files, sockets and child processes
  // itself. A graceful command (train) is first asked to stop at its next safe point; a second
  // signal aborts it at once.
  const ac = new AbortController();
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (command.graceful && !stop.signal.aborted) {
      stop.abort();
      err.write(
        `streams: ${sig}: stopping at the next step with a checkpoint (again to abort at once)\n`,
      );
      return;
    }
    ac.abort(new DOMException(`interrupted by ${sig}`, 'AbortError'));
    if (command.graceful) {
      err.write(`streams: interrupted by a second ${sig}\n`);
      process.exit(EXIT.aborted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { values, positionals } = parse(command, rest);
    if (values.help) {
      out.write(commandHelp(command, entry.summary));
      return EXIT.ok;
    }
    checkArity(command, positionals, values);
    return await command.run({
      positionals,
      flags: coerce(command, values),
      io: { out, err, signal: ac.signal, stop: stop.signal },
    });
  } catch (e) {
    return report(e, err, verbose);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The command's flags and positionals; a flag parseArgs rejects is a usage error naming it. */
function parse(command: Command, args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: toParseArgs(command.flags),
    });
  } catch (e) {
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        `[streams/trainer] ${oneLine(e.message).replace(/\.$/, '')}`,
        {
          cause: e,
          fix: `see "streams ${command.name} --help" for its options`,
        },
      );
    throw e;
  }
}

/** A usage error unless the subcommand, positionals and flags the command needs are all given. */
function checkArity(c: Command, positionals: string[], values: Record<string, unknown>): void {
  let name = `streams ${c.name}`;
  let arity: Arity = c;
  let given = positionals;
  const usageOf = (prefix: string) => {
    const lines = c.usage.split('\n').map((l) => l.trim());
    return lines.find((l) => l.startsWith(`${prefix} `)) ?? lines[0] ?? prefix;
  };
  const fail = (problem: string) =>
    new StreamsError('STREAMS_INVALID_CONFIG', `[streams/trainer] "${name}" ${problem}`, {
      fix: `run it as ${usageOf(name)}`,
    });
  if (c.subcommands) {
    const names = Object.keys(c.subcommands);
    const [sub, ...rest] = positionals;
    const found = sub === undefined ? undefined : c.subcommands[sub];
    if (!found || sub === undefined) {
      const list = names.map((n) => `"${n}"`).join(' or ');
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        sub === undefined
          ? `[streams/trainer] "${name}" needs a subcommand: ${list}`
          : `[streams/trainer] "${name} ${sub}" is no subcommand; ${name} takes ${list}`,
        { fix: names.map((n) => usageOf(`${name} ${n}`)).join(', or ') },
      );
    }
    name = `${name} ${sub}`;
    arity = found;
    given = rest;
  }
  const arg = arity.args?.[given.length];
  if (arg !== undefined) throw fail(`needs <${arg}>`);
  const flag = arity.required?.find((f) => values[f] === undefined);
  if (flag !== undefined) throw fail(`needs --${flag}`);
}

/** A message on one line (stderr carries one line per error). */
const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ');

function toParseArgs(flags: Record<string, FlagSpec>) {
  const options: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
  > = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, spec] of Object.entries(flags)) {
    // node's parseArgs rejects `short: undefined`, so only set the keys a flag has.
    options[name] = {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      ...(spec.short === undefined ? {} : { short: spec.short }),
      ...(spec.multiple === undefined ? {} : { multiple: spec.multiple }),
    };
  }
  return options;
}

function coerce(command: Command, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(command.flags)) {
    const v = values[name] ?? spec.default;
    if (v === undefined) continue;
    if (spec.type === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n)) {
        throw new StreamsError(
          'STREAMS_INVALID_CONFIG',
          `[streams/trainer] --${name}="${String(v)}" is not a number`,
          {
            fix: `give --${name} a number`,
          },
        );
      }
      out[name] = n;
    } else out[name] = v;
  }
  return out;
}

/** Maps an error to its exit code and one line on stderr (with --verbose, the stack and causes). */
function report(e: unknown, err: NodeJS.WritableStream, verbose: boolean): number {
  const detail = () => {
    if (!verbose) return '';
    const parts: string[] = [];
    for (let c: unknown = e; c instanceof Error; c = c.cause) parts.push(c.stack ?? c.message);
    return `${parts.join('\ncaused by: ')}\n`;
  };
  if (isStreamsError(e)) {
    err.write(`streams: ${e.code}: ${oneLine(e.message)}\n${detail()}`);
    return e.code === 'STREAMS_INVALID_CONFIG' ? EXIT.usage : EXIT.error;
  }
  if (isAbortError(e)) {
    const why =
      e instanceof Error && e.message && e.message !== 'This operation was aborted'
        ? e.message
        : 'aborted';
    err.write(`streams: ${why}\n${detail()}`);
    return EXIT.aborted;
  }
  err.write(
    `streams: internal error (please report it; --verbose shows the stack): ${oneLine(e instanceof Error ? e.message : String(e))}\n${detail()}`,
  );
  return EXIT.error;
}

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'streams: stream training data from anywhere into models, and train continual learners on it.',
    '',
    'Usage: streams <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run "streams <command> --help" for the options of one command.',
    '',
  ].join('\n');
}

function commandHelp(c: Command, summary: string): string {
  const lines = [`Usage: ${c.usage}`, '', summary, ''];
  const flags = Object.entries(c.flags);
  if (flags.length > 0) {
    lines.push('Options:');
    const names = flags.map(
      ([name, spec]) => `--${name}${spec.type === 'boolean' ? '' : ` <${spec.type}>`}`,
    );
    const width = Math.max(...names.map((n) => n.length));
    flags.forEach(([, spec], i) => {
      const def = spec.default === undefined ? '' : ` (default: ${String(spec.default)})`;
      lines.push(`  ${names[i]!.padEnd(width)}  ${spec.description}${def}`);
    });
  }
  return `${lines.join('\n')}\n`;
}
