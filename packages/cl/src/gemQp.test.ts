import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gemObjective, solveGemDual } from './gemQp.js';

/** Brute force: every set of variables at their bound, the rest from the equality system; the best feasible point. */
function bruteForce(P: number[][], q: number[], margin: number): number[] {
  const t = q.length;
  let best: number[] | null = null;
  let bestValue = Infinity;
  for (let mask = 0; mask < 1 << t; mask++) {
    const free = [...Array(t).keys()].filter((i) => mask & (1 << i));
    // Free variables solve P_FF v_F = -(q_F + P_FB * margin); bound ones sit at the margin.
    const v = new Array<number>(t).fill(margin);
    if (free.length > 0) {
      const a = free.map((i) => [
        ...free.map((j) => P[i]![j]!),
        -(
          q[i]! +
          [...Array(t).keys()]
            .filter((j) => !free.includes(j))
            .reduce((s, j) => s + P[i]![j]! * margin, 0)
        ),
      ]);
      const m = free.length;
      for (let c = 0; c < m; c++) {
        let p = c;
        for (let r = c + 1; r < m; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
        [a[c], a[p]] = [a[p]!, a[c]!];
        for (let r = 0; r < m; r++) {
          if (r === c) continue;
          const f = a[r]![c]! / a[c]![c]!;
          for (let k = c; k <= m; k++) a[r]![k] = a[r]![k]! - f * a[c]![k]!;
        }
      }
      free.forEach((i, r) => {
        v[i] = a[r]![m]! / a[r]![r]!;
      });
    }
    if (v.some((x) => x < margin - 1e-12)) continue;
    const value = gemObjective(P, q, v);
    if (value < bestValue) {
      bestValue = value;
      best = v;
    }
  }
  return best!;
}

/** P = G G^T + eps I from random gradient rows, q = G g: the QP GEM builds. */
function problem(rows: number[][], g: number[], eps: number): { P: number[][]; q: number[] } {
  const dotp = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
  return {
    P: rows.map((a, i) => rows.map((b, j) => dotp(a, b) + (i === j ? eps : 0))),
    q: rows.map((a) => dotp(a, g)),
  };
}

describe('GEM dual QP', () => {
  it('solves a hand-made problem: one violated constraint', () => {
    // G = [[1, 0]], g = [-1, 1]: v >= 0 minimizes 1/2 v^2 - v, so v = 1 and g + G^T v = [0, 1].
    const v = solveGemDual([[1]], [-1], 0);
    expect(v[0]).toBeCloseTo(1, 12);
  });

  it('matches brute force on random problems (up to 6 past experiences, with and without margin)', () => {
    const vec = (n: number) =>
      fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n, maxLength: n });
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 6 })
          .chain((t) =>
            fc.tuple(
              fc.array(vec(5), { minLength: t, maxLength: t }),
              vec(5),
              fc.constantFrom(0, 0.5),
              fc.constantFrom(1e-3, 0.1),
            ),
          ),
        ([rows, g, margin, eps]) => {
          const { P, q } = problem(rows, g, eps);
          const v = solveGemDual(P, q, margin);
          const ref = bruteForce(P, q, margin);
          for (const x of v) expect(x).toBeGreaterThanOrEqual(margin - 1e-9);
          const scale = 1 + Math.abs(gemObjective(P, q, ref));
          expect(gemObjective(P, q, v)).toBeLessThanOrEqual(gemObjective(P, q, ref) + 1e-9 * scale);
          v.forEach((x, i) => {
            expect(x).toBeCloseTo(ref[i]!, 5);
          });
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  it('makes the projected gradient satisfy every constraint (margin 0)', () => {
    const rows = [
      [1, 0.2, -0.5],
      [-0.3, 1, 0.1],
      [0.5, 0.5, 0.5],
    ];
    const g = [-1, -1, 0.2];
    const { P, q } = problem(rows, g, 0);
    const v = solveGemDual(P, q, 0);
    const projected = g.map((x, k) => x + rows.reduce((s, r, i) => s + v[i]! * r[k]!, 0));
    for (const r of rows)
      expect(r.reduce((s, x, k) => s + x * projected[k]!, 0)).toBeGreaterThanOrEqual(-1e-9);
  });
});
