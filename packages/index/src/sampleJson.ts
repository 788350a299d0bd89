/**
 * The JSON form of decoded samples that `streams cat` prints: numbers as JSON numbers (64-bit
 * integers beyond 2^53 as strings), bytes as `{"hex": ...}`, ndarrays as `{dtype, shape, data}`,
 * `json` columns as their value, text as strings.
 */
export function toJsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') {
    return value >= -9007199254740991n && value <= 9007199254740991n
      ? Number(value)
      : value.toString();
  }
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value !== 'object') return value;
  if (value instanceof Uint8Array)
    return { hex: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') };
  if (ArrayBuffer.isView(value))
    return Array.from(value as unknown as ArrayLike<unknown>, toJsonValue);
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Date) return value.toISOString();
  const v = value as Record<string, unknown>;
  if ('dtype' in v && 'shape' in v && 'data' in v && ArrayBuffer.isView(v.data)) {
    return {
      dtype: v.dtype,
      shape: toJsonValue(v.shape),
      data: Array.from(v.data as unknown as ArrayLike<unknown>, toJsonValue),
    };
  }
  if ((v.format === 'jpeg' || v.format === 'png') && v.bytes instanceof Uint8Array) {
    return { format: v.format, ...(toJsonValue(v.bytes) as object) };
  }
  if (v.format === 'pil' && v.bytes instanceof Uint8Array) {
    return {
      format: 'pil',
      mode: v.mode,
      width: v.width,
      height: v.height,
      ...(toJsonValue(v.bytes) as object),
    };
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = toJsonValue(x);
  return out;
}

/** One line of `streams cat` output for a sample. */
export function sampleToJsonLine(sample: Record<string, unknown>): string {
  return JSON.stringify(toJsonValue(sample));
}
