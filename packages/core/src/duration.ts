import { StreamsError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a user-given duration into milliseconds: `"500ms"`, `"60s"`, `"2m"`, `"1h"`, `"1.5h"`,
 * `"1d"`; a bare number (or numeric string) is SECONDS, as MosaicML `streaming` configs write
 * `download_timeout: 60`, so a config ported from Python means the same time here.
 * `field` names the option in the error. Zero and negative durations are refused.
 */
export function parseDuration(value: number | string, field = 'duration'): number {
  // Hand-written like parseBytes: the `ms` package reads a bare number as milliseconds, the
  // opposite of the MosaicML convention this parser exists for, and core has no dependencies.
  let ms = Number.NaN;
  if (typeof value === 'number') ms = value * 1000;
  else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)?\s*$/i.exec(value);
    if (m) ms = Number(m[1]) * UNIT_MS[(m[2] ?? 's').toLowerCase()]!; // every unit matched has an entry
  }
  if (Number.isFinite(ms) && ms > 0) return Math.round(ms * 1000) / 1000;
  throw new StreamsError(
    'STREAMS_INVALID_CONFIG',
    `[streams/core] ${field}: ${JSON.stringify(value) ?? String(value)} is not a duration`,
    {
      fix: `give ${field} a positive number of seconds (60) or a string with a unit: "500ms", "60s", "2m", "1h"`,
    },
  );
}
