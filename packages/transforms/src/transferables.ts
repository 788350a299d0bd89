/**
 * The ArrayBuffers of typed arrays inside `value` (up to a few levels deep) that can be moved
 * instead of copied: only buffers the view covers whole, so pooled or shared memory is never
 * detached under someone else's feet.
 */
export function collectTransferables(
  value: unknown,
  depth = 3,
  out = new Set<ArrayBuffer>(),
): ArrayBuffer[] {
  visit(value, depth, out);
  return [...out];
}

function visit(value: unknown, depth: number, out: Set<ArrayBuffer>): void {
  if (value === null || typeof value !== 'object') return;
  if (ArrayBuffer.isView(value)) {
    const buf = value.buffer;
    if (
      buf instanceof ArrayBuffer &&
      value.byteOffset === 0 &&
      value.byteLength === buf.byteLength &&
      buf.byteLength > 0
    ) {
      out.add(buf);
    }
    return;
  }
  if (value instanceof ArrayBuffer || depth === 0) return;
  if (Array.isArray(value)) {
    for (const v of value) visit(v, depth - 1, out);
    return;
  }
  for (const v of Object.values(value)) visit(v, depth - 1, out);
}
