import { describe, expect, it } from 'vitest';
import { median, pairedRounds } from './rounds.js';

describe('benchmark rounds', () => {
  it('median: the middle value, or the mean of the middle two', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('pairedRounds alternates which side runs first and warms both up unmeasured', async () => {
    const order: string[] = [];
    let n = 0;
    const side = (name: string) => async () => {
      order.push(name);
      return ++n;
    };
    const r = await pairedRounds(side('a'), side('b'), { rounds: 3, warmup: 1 });
    expect(order).toEqual(['a', 'b', 'a', 'b', 'b', 'a', 'a', 'b']);
    expect(r.as).toEqual([3, 6, 7]);
    expect(r.bs).toEqual([4, 5, 8]);
    expect(r).toMatchObject({ a: 6, b: 5 });
  });
});
