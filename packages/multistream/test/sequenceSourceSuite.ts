// The conformance suite every SequenceSource runs: sizes and lengths agree, fetch + decode give
// `[length, ...itemShape]` of the declared dtype, and the worker decoder (when there is one) gives
// the same values in a TransformPool thread as decode() does inline.
import { DTYPES, type TypedArray } from '@streams/core';
import { TransformPool } from '@streams/transforms';
import { expect, it } from 'vitest';
import type { SequenceSource } from '../src/index.js';

export interface SequenceSourceCase {
  name: string;
  make: () => Promise<SequenceSource>;
  /** Whether the source offers a worker decoder. */
  decoder: boolean;
  /** The pool the worker decoder runs in (default: a pool of one thread for this test). */
  pool?: TransformPool;
  /** Optional check of sequence i's decoded values. */
  check?: (i: number, data: TypedArray) => void;
}

/** Registers the suite's tests for one source. */
export function testSequenceSource(c: SequenceSourceCase): void {
  it(`${c.name}: lengths, fetch and decode agree on shape and dtype`, async () => {
    const src = await c.make();
    const lengths = await src.lengths();
    expect(lengths.length).toBe(src.size);
    expect(src.size).toBeGreaterThan(0);
    const itemSize = src.itemShape.reduce((a, b) => a * b, 1);
    for (const i of new Set([0, src.size - 1])) {
      const data = await src.decode(await src.fetch(i), lengths[i]!);
      expect(data).toBeInstanceOf(DTYPES[src.dtype].array);
      expect(data.length).toBe(lengths[i]! * itemSize);
      c.check?.(i, data);
    }
  });

  it(`${c.name}: ${c.decoder ? 'the worker decoder matches decode() inline' : 'decodes inline (no worker decoder)'}`, async () => {
    const src = await c.make();
    expect(src.decoder !== undefined).toBe(c.decoder);
    if (!src.decoder) return;
    expect(src.decoder.module).toMatch(/^file:/);
    const lengths = await src.lengths();
    const own = c.pool ? undefined : new TransformPool({ size: 1 });
    const pool = (c.pool ?? own)!;
    const raw = await src.fetch(0);
    const inline = await src.decode(raw, lengths[0]!);
    const d = src.decoder;
    try {
      const threaded = await pool.run<TypedArray>(d.module, d.name, [raw, lengths[0]!, ...d.args]);
      expect([...threaded]).toEqual([...inline]);
    } finally {
      await own?.close();
    }
  });
}
