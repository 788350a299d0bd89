/** A CLI flag; the same table types the config file, so flags and config cannot drift. */
export interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  description: string;
  short?: string;
  default?: string | number | boolean;
  /** May be given several times; the value is then an array. */
  multiple?: boolean;
}

/** Where a command writes, and the signal that aborts it (Ctrl-C). */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  signal?: AbortSignal;
}

/** A subcommand of `streams`. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, FlagSpec>;
  run(args: {
    positionals: string[];
    flags: Record<string, unknown>;
    io: CommandIo;
  }): Promise<number>;
}
