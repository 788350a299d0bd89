import { parseArgs } from 'node:util';
import { isAbortError, isStreamsError, StreamsError } from '@streams/core';
import type { Command, FlagSpec } from './commands.js';
import { commands } from './registry.js';

/** Exit codes: 0 success, 1 a StreamsError (bad input, unreachable data...), 2 usage, 130 aborted, 70 a bug. */
export const EXIT = { ok: 0, error: 1, usage: 2, internal: 70, aborted: 130 } as const;

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out.write(help());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version') {
    out.write(`${(await import('../package.json', { with: { type: 'json' } })).default.version}\n`);
    return EXIT.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    err.write(`streams: unknown command "${name}". Run "streams --help" for the list.\n`);
    return EXIT.usage;
  }
  // Ctrl-C aborts the command's signal, so it closes files, sockets and child processes itself.
  const ac = new AbortController();
  const onSigint = () => ac.abort(new DOMException('interrupted', 'AbortError'));
  process.once('SIGINT', onSigint);
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: toParseArgs(command.flags),
    });
    if (values.help) {
      out.write(commandHelp(command));
      return EXIT.ok;
    }
    return await command.run({
      positionals,
      flags: coerce(command, values),
      io: { out, err, signal: ac.signal },
    });
  } catch (e) {
    return report(e, err);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

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

function report(e: unknown, err: NodeJS.WritableStream): number {
  if (isStreamsError(e)) {
    err.write(`streams: ${e.code}: ${e.message}\n`);
    return EXIT.error;
  }
  if (isAbortError(e)) {
    err.write('streams: aborted\n');
    return EXIT.aborted;
  }
  if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    err.write(`streams: ${e.message}\n`);
    return EXIT.usage;
  }
  err.write(
    `streams: internal error (please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  return EXIT.internal;
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

function commandHelp(c: Command): string {
  const lines = [`Usage: ${c.usage}`, '', c.summary, ''];
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
