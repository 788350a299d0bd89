import { readFile } from 'node:fs/promises';
import { StreamsError } from '@streams/core';
import { closest, distance } from 'fastest-levenshtein';
import { LineCounter, parseDocument, parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type RunConfig, type RunConfigInput, runConfigSchema } from './runConfig.js';

type Path = Array<string | number>;

/** Where a raw config came from, so errors can point at a line of the file. */
interface RawConfig {
  value: Record<string, unknown>;
  file?: string;
  locate?: (path: Path) => string | undefined;
}

/** Reads a YAML or JSON config file (JSON is YAML); errors name the file and line. */
export async function readConfigFile(file: string): Promise<RawConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] cannot read the config file ${file}`,
      {
        cause,
        fix: 'check the path given to --config',
      },
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] ${file}:${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`,
      { fix: 'fix the YAML (or JSON) syntax at that line' },
    );
  }
  const value = doc.toJS() as unknown;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] ${file} does not hold a mapping of settings`,
      {
        fix: 'start the file with settings such as "name: my-run" and "streams:"',
      },
    );
  }
  const locate = (path: Path) => {
    // The deepest node of the path that exists in the file (a missing key points at its parent).
    for (let k = path.length; k >= 0; k--) {
      const node = doc.getIn(path.slice(0, k), true) as
        | { range?: [number, number, number] }
        | undefined;
      const start = node?.range?.[0];
      if (start !== undefined) {
        const { line, col } = lines.linePos(start);
        return `${file}:${line}:${col}`;
      }
    }
    return undefined;
  };
  return { value: value as Record<string, unknown>, file, locate };
}

/** Parses `a.b[0].c=value` (or `a.b.0.c=value`); the value is read as YAML (numbers, lists...). */
export function parseSet(assignment: string): { path: Path; value: unknown } {
  const eq = assignment.indexOf('=');
  if (eq <= 0) {
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] --set "${assignment}" has no "=": write path=value`,
      {
        fix: 'write --set learners[0].optimizer.lr=0.01',
      },
    );
  }
  const path: Path = assignment
    .slice(0, eq)
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p !== '')
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const text = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = text === '' ? '' : parseYaml(text);
  } catch {
    value = text;
  }
  return { path, value };
}

/** A `--set path=value` text, or a flag's typed value for a config path. */
export type Assignment = string | { path: Path; value: unknown; flag: string };

/** Applies `--set` assignments to a raw config, checking each path against the schema first. */
export function applySets(
  raw: Record<string, unknown>,
  sets: readonly Assignment[],
): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const s of sets) {
    // A flag's value is set as given (a --name of 007 stays a string); --set text is read as YAML.
    const { path, value } = typeof s === 'string' ? parseSet(s) : s;
    checkPath(path, typeof s === 'string' ? `--set ${s}` : s.flag);
    let node: Record<string | number, unknown> = out;
    path.forEach((key, i) => {
      if (i === path.length - 1) {
        node[key] = value;
        return;
      }
      const next = node[key];
      if (next === undefined || next === null || typeof next !== 'object') {
        node[key] = typeof path[i + 1] === 'number' ? [] : {};
      }
      node = node[key] as Record<string | number, unknown>;
    });
  }
  return out;
}

/** Validates a raw config (file plus `--set`s) into a {@link RunConfig}, or throws one error listing every problem. */
export function validateConfig(raw: RawConfig | Record<string, unknown>): RunConfig {
  const r: RawConfig =
    'value' in raw && typeof raw.value === 'object'
      ? (raw as RawConfig)
      : { value: raw as Record<string, unknown> };
  const parsed = runConfigSchema.safeParse(r.value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => describeIssue(issue, r));
  const where = r.file ? ` in ${r.file}` : '';
  throw new StreamsError(
    'STREAMS_INVALID_CONFIG',
    `[streams/trainer] invalid config${where}: ${problems.join('; ')}`,
    { fix: 'correct the fields named above (streams train --print-schema lists every field)' },
  );
}

/** Loads `--config` (or the given default), applies `--set`s and validates. */
export async function loadConfig(options: {
  file?: string;
  fallback?: RunConfigInput;
  sets?: readonly Assignment[];
}): Promise<RunConfig> {
  const base: RawConfig = options.file
    ? await readConfigFile(options.file)
    : { value: structuredClone(options.fallback ?? {}) as Record<string, unknown> };
  return validateConfig({ ...base, value: applySets(base.value, options.sets ?? []) });
}

function describeIssue(issue: z.core.$ZodIssue, r: RawConfig): string {
  const field = formatPath(issue.path as Path);
  const at = r.locate?.(issue.path as Path);
  const prefix = `${field || '(top level)'}${at ? ` (${at})` : ''}`;
  const found = describeValue(valueAt(r.value, issue.path as Path));
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = keysAt(issue.path as Path);
      return issue.keys
        .map((k) => {
          const guess = known.length > 0 ? closest(k, known) : undefined;
          const hint = guess && similar(k, guess) ? `; did you mean "${guess}"?` : '';
          return `${formatPath([...(issue.path as Path), k])}${at ? ` (${at})` : ''}: unknown key${hint} (expected one of ${known.join(', ')})`;
        })
        .join('; ');
    }
    case 'invalid_type':
      return `${prefix}: expected ${issue.expected}, found ${found}`;
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const text = valueAt(r.value, issue.path as Path);
      const guess = typeof text === 'string' ? closest(text, issue.values.map(String)) : undefined;
      const hint = guess && similar(String(text), guess) ? `; did you mean "${guess}"?` : '';
      return `${prefix}: expected one of ${values.join(', ')}, found ${found}${hint}`;
    }
    default:
      return `${prefix}: ${issue.message.replace(/^Invalid input: /, '')}, found ${found}`;
  }
}

/** A guess is worth showing when it is within a third of the word's letters (at least 2) of it. */
function similar(a: string, b: string): boolean {
  return (
    distance(a.toLowerCase(), b.toLowerCase()) <=
    Math.max(2, Math.ceil(Math.max(a.length, b.length) / 3))
  );
}

/** `streams[1].proportion` */
export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function valueAt(value: unknown, path: Path): unknown {
  let v: unknown = value;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return 'a mapping';
  const text = JSON.stringify(v);
  return `${typeof v} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

// --- walking the schema ----------------------------------------------------------------------

type AnySchema = z.core.$ZodType;

function unwrap(s: AnySchema): AnySchema {
  let cur = s;
  for (;;) {
    const def = cur._zod.def as { type: string; innerType?: AnySchema; in?: AnySchema };
    if (
      def.innerType &&
      ['optional', 'default', 'nullable', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(
        def.type,
      )
    )
      cur = def.innerType;
    else if (def.type === 'pipe' && def.in) cur = def.in;
    else return cur;
  }
}

/** The schemas a path can lead to (a union field can be an object or a list). */
function schemasAt(path: Path): AnySchema[] {
  let cur: AnySchema[] = [runConfigSchema];
  for (const key of path) {
    const next: AnySchema[] = [];
    for (const s of cur.map(unwrap)) {
      const def = s._zod.def as {
        type: string;
        shape?: Record<string, AnySchema>;
        element?: AnySchema;
        options?: AnySchema[];
        valueType?: AnySchema;
      };
      const branches = def.type === 'union' ? def.options!.map(unwrap) : [s];
      for (const b of branches) {
        const bd = b._zod.def as typeof def;
        if (bd.type === 'object' && typeof key === 'string' && bd.shape?.[key])
          next.push(bd.shape[key]);
        else if (bd.type === 'array' && typeof key === 'number') next.push(bd.element!);
        else if (bd.type === 'record') next.push(bd.valueType!);
      }
    }
    cur = next;
    if (cur.length === 0) break;
  }
  return cur;
}

/** Keys an object at `path` accepts (empty when the path is not an object). */
export function keysAt(path: Path): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(path).map(unwrap)) {
    const def = s._zod.def as {
      type: string;
      shape?: Record<string, AnySchema>;
      options?: AnySchema[];
    };
    for (const b of def.type === 'union' ? def.options!.map(unwrap) : [s]) {
      const bd = b._zod.def as typeof def;
      if (bd.type === 'object') for (const k of Object.keys(bd.shape ?? {})) keys.add(k);
    }
  }
  return [...keys];
}

function checkPath(path: Path, what: string): void {
  for (let i = 0; i < path.length; i++) {
    if (schemasAt(path.slice(0, i + 1)).length > 0) continue;
    const key = path[i]!;
    const known = keysAt(path.slice(0, i));
    const guess = typeof key === 'string' && known.length > 0 ? closest(key, known) : undefined;
    const hint =
      guess && similar(String(key), guess)
        ? ` Did you mean "${formatPath([...path.slice(0, i), guess])}"?`
        : '';
    throw new StreamsError(
      'STREAMS_INVALID_CONFIG',
      `[streams/trainer] ${what}: ${formatPath(path.slice(0, i + 1))} is not a config field.${hint}`,
      {
        fix:
          known.length > 0
            ? `fields at ${formatPath(path.slice(0, i)) || 'the top level'}: ${known.join(', ')}`
            : 'streams train --print-schema lists every field',
      },
    );
  }
}
