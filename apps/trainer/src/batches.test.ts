import { describe, expect, it } from 'vitest';
import { toBatch } from './batches.js';

describe('toBatch', () => {
  it('packs inputs, labels, sample weights and the task into typed arrays', () => {
    const samples = [
      { x: new Float32Array([1, 2]), y: 3, w: 0.5 },
      { x: [4, 5], y: '1', w: 2n },
    ];
    const b = toBatch(samples, { input: 'x', label: 'y', weight: 'w' }, 2);
    expect(b.x).toEqual(new Float32Array([1, 2, 4, 5]));
    expect(b.y).toEqual(new Int32Array([3, 1]));
    expect(b.weight).toEqual(new Float32Array([0.5, 2]));
    expect(b.task).toEqual(new Int32Array([2, 2]));
    // Without a weight field or a task, the batch has neither.
    const plain = toBatch(samples, { input: 'x', label: 'y' });
    expect(plain.weight).toBeUndefined();
    expect(plain.task).toBeUndefined();
  });

  it('refuses a negative, missing or non-numeric sample weight, naming the stream', () => {
    const f = { input: 'x', label: 'y', weight: 'w', stream: 'web' };
    const thrown = (w: unknown) => {
      try {
        toBatch([{ x: [1], y: 0, w }], f);
      } catch (e) {
        return e as Error & { code?: string; stream?: string };
      }
      throw new Error(`a weight of ${String(w)} was accepted`);
    };
    for (const w of [-1, Number.NaN, 'heavy']) {
      const e = thrown(w);
      expect(e.code).toBe('STREAMS_INVALID_CONFIG');
      expect(e.stream).toBe('web');
      expect(e.message).toMatch(/stream web: sample weight is not a finite number >= 0/);
    }
    expect(thrown(undefined).message).toMatch(/stream web: sample weight is missing/);
  });
});
