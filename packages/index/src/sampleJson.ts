/** Sets `key` on `o` as an own property, also `__proto__` (which plain assignment would take as the prototype). */
export function setField(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
  else o[key] = value;
}

/** A 64-bit integer as a JSON number when exact, else as a string; other scalars as JSON allows. */
function scalar(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') {
    return value >= -9007199254740991n && value <= 9007199254740991n
      ? Number(value)
      : value.toString();
  }
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  return value;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Converts `value` and its children into JSON values, with an explicit stack: any depth. */
function convert(value: unknown): { json: unknown; depth: number } {
  const root: Record<string, unknown> = { v: null };
  let depth = 0;
  // [source value, where its conversion goes, key there, nesting depth]
  const work: [unknown, Record<string, unknown> | unknown[], string | number, number][] = [
    [value, root, 'v', 0],
  ];
  while (work.length > 0) {
    const [v, target, key, d] = work.pop() as (typeof work)[number];
    if (d > depth) depth = d;
    let out: unknown;
    if (v === null || typeof v !== 'object') out = scalar(v);
    else if (v instanceof Uint8Array) out = { hex: hex(v) };
    else if (ArrayBuffer.isView(v)) out = Array.from(v as unknown as ArrayLike<unknown>, scalar);
    else if (Array.isArray(v)) {
      const arr: unknown[] = new Array(v.length).fill(null);
      for (let i = 0; i < v.length; i++) work.push([v[i], arr, i, d + 1]);
      out = arr;
    } else if (v instanceof Date) out = v.toISOString();
    else {
      const o = v as Record<string, unknown>;
      if ('dtype' in o && 'shape' in o && 'data' in o && ArrayBuffer.isView(o.data)) {
        const nd: Record<string, unknown> = {
          dtype: o.dtype,
          shape: null,
          data: Array.from(o.data as unknown as ArrayLike<unknown>, scalar),
        };
        work.push([o.shape, nd, 'shape', d + 1]);
        out = nd;
      } else if ((o.format === 'jpeg' || o.format === 'png') && o.bytes instanceof Uint8Array) {
        out = { format: o.format, hex: hex(o.bytes) };
      } else if (o.format === 'pil' && o.bytes instanceof Uint8Array) {
        out = { format: 'pil', mode: o.mode, width: o.width, height: o.height, hex: hex(o.bytes) };
      } else {
        // Keys are placed in order now; their values land as the stack reaches them.
        const obj: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(o)) {
          setField(obj, k, null);
          work.push([x, obj, k, d + 1]);
        }
        out = obj;
      }
    }
    if (Array.isArray(target)) target[key as number] = out;
    else setField(target, key as string, out);
  }
  return { json: root.v, depth };
}

/**
 * The JSON form of decoded samples that `streams cat` prints: numbers as JSON numbers (64-bit
 * integers beyond 2^53 as strings), bytes as `{"hex": ...}`, ndarrays as `{dtype, shape, data}`,
 * `json` columns as their value, text as strings. Every key is kept (`__proto__` too), at any depth.
 */
export function toJsonValue(value: unknown): unknown {
  return convert(value).json;
}

/** Nesting below which the engine's JSON.stringify is used (its recursion overflows far deeper). */
const NATIVE_DEPTH = 1000;

/** A piece of JSON text in {@link stringifyDeep}'s stack, as opposed to a value still to write. */
class Raw {
  constructor(readonly text: string) {}
}

/** JSON.stringify of a JSON value (no toJSON, no undefined) with an explicit stack: any depth. */
function stringifyDeep(value: unknown): string {
  const parts: string[] = [];
  const work: unknown[] = [value];
  while (work.length > 0) {
    const v = work.pop();
    if (v instanceof Raw) parts.push(v.text);
    else if (v === null || typeof v !== 'object') parts.push(JSON.stringify(v) ?? 'null');
    else if (Array.isArray(v)) {
      work.push(new Raw(']'));
      for (let i = v.length - 1; i >= 0; i--) {
        work.push(v[i]);
        if (i > 0) work.push(new Raw(','));
      }
      parts.push('[');
    } else {
      const keys = Object.keys(v);
      work.push(new Raw('}'));
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i] as string;
        work.push(
          (v as Record<string, unknown>)[k],
          new Raw(`${i > 0 ? ',' : ''}${JSON.stringify(k)}:`),
        );
      }
      parts.push('{');
    }
  }
  return parts.join('');
}

/** One line of `streams cat` output for a sample. */
export function sampleToJsonLine(sample: Record<string, unknown>): string {
  const { json, depth } = convert(sample);
  return depth < NATIVE_DEPTH ? JSON.stringify(json) : stringifyDeep(json);
}
