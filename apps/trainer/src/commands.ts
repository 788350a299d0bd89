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

/** A subcommand of `streams` (its one-line summary is in the registry, so help loads no command). */
export interface Command {
  name: string;
  usage: string;
  flags: Record<string, FlagSpec>;
  /** The first SIGINT/SIGTERM asks it to stop (`io.stop`); only a second one aborts. */
  graceful?: boolean;
  run(args: {
    positionals: string[];
    flags: Record<string, unknown>;
    io: CommandIo;
  }): Promise<number>;
}
