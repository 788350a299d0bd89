import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { StreamsError } from './errors.js';

/** Node-wide settings read from the environment. */
export interface Settings {
  /** Shared disk cache directory: `STREAMS_CACHE_DIR`, else `$XDG_CACHE_HOME/streams`, else `~/.cache/streams`. */
  cacheDir: string;
  /** Where named datasets are materialized: `STREAMS_DATA_DIR`, else `$XDG_DATA_HOME/streams`, else `~/.local/share/streams`. */
  dataDir: string;
}

/** Reads {@link Settings} from `env` (defaults to `process.env`). */
export function settings(env: Record<string, string | undefined> = process.env): Settings {
  const home = env.HOME || homedir();
  return {
    cacheDir: resolve(
      env.STREAMS_CACHE_DIR || join(env.XDG_CACHE_HOME || join(home, '.cache'), 'streams'),
    ),
    dataDir: resolve(
      env.STREAMS_DATA_DIR || join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'streams'),
    ),
  };
}

const UNITS: Record<string, number> = {
  b: 1,
  kb: 2 ** 10,
  mb: 2 ** 20,
  gb: 2 ** 30,
  tb: 2 ** 40,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * Parses a byte size: a number of bytes, or a string such as `"20gb"`, `"512 MiB"`, `"1.5kb"`.
 * Units are powers of 1024 whether written `kb` or `kib`, as MosaicML `streaming`'s `bytes_to_int`
 * reads them, so `cache_limit`/`size_limit` values ported from Python mean the same bytes here.
 * `field` names the option in the error.
 */
export function parseBytes(value: number | string, field = 'size'): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(value);
    if (m) {
      const bytes = Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!; // every unit matched has an entry
      if (Number.isSafeInteger(Math.floor(bytes))) return Math.floor(bytes);
    }
  }
  throw new StreamsError(
    'STREAMS_INVALID_CONFIG',
    `[streams/core] ${field}: "${value}" is not a byte size`,
    {
      fix: 'give a non-negative number of bytes or a string like "20gb", "512mib"',
    },
  );
}

/** Formats bytes for humans with binary units, e.g. `1.5 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
