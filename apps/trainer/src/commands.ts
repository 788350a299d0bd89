/** A CLI flag; the same table types the config file, so flags and config cannot drift. */
export interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  description: string;
  short?: string;
  default?: string | number | boolean;
  /** May be given several times; the value is then an array. */
  multiple?: boolean;
  /** The config field the flag sets (`streams train`: the flag is a `--set` of that path). */
  config?: string;
}

/** Where a command writes, and the signal that aborts it (Ctrl-C). */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Aborts the command at once (Ctrl-C; a second Ctrl-C for graceful commands). */
  signal?: AbortSignal;
  /** Graceful commands: stop at the next safe point (the first Ctrl-C or SIGTERM). */
  stop?: AbortSignal;
}

/**
 * What a command (or one of its subcommands) cannot run without. `main` checks it before the
 * command runs, so a missing one is a usage error (exit 2) for every command alike.
 */
export interface Arity {
  /** Positionals it needs, in order, named as its usage names them (`src`, `dst`). */
  args?: readonly string[];
  /** Flags it needs (names without the dashes). */
  required?: readonly string[];
}

/** A subcommand of `streams` (its one-line summary is in the registry, so help loads no command). */
export interface Command extends Arity {
  name: string;
  usage: string;
  flags: Record<string, FlagSpec>;
  /** `streams index build|validate`: the first positional names one; its own needs replace the command's. */
  subcommands?: Record<string, Arity>;
  /** The first SIGINT/SIGTERM asks it to stop (`io.stop`); only a second one aborts. */
  graceful?: boolean;
  run(args: {
    positionals: string[];
    flags: Record<string, unknown>;
    io: CommandIo;
  }): Promise<number>;
}
