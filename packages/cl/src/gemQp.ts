/**
 * GEM's dual quadratic program (Lopez-Paz & Ranzato, 2017), solved exactly in float64:
 *
 *   minimize 1/2 v^T P v + q^T v   subject to   v >= margin
 *
 * with P = G G^T + eps I and q = G g, G the past experiences' gradients as rows and g the current
 * gradient; the projected gradient is g + G^T v. This is what the reference code hands quadprog.
 * Substituting u = v - margin gives a bound-constrained problem, solved with a primal active-set
 * method (Lawson-Hanson style): few variables (one per past experience), exact KKT at the end.
 */
export function solveGemDual(
  P: readonly number[][],
  q: readonly number[],
  margin: number,
): number[] {
  const t = q.length;
  // u >= 0 with linear term c = q + P * margin.
  const c = q.map((qi, i) => qi + margin * P[i]!.reduce((a, pij) => a + pij, 0));
  const u = new Array<number>(t).fill(0);
  const free = new Set<number>();
  const tol = 1e-12 * Math.max(1, ...P.map((row, i) => Math.abs(row[i]!)));
  for (let outer = 0; outer < 10 * t + 10; outer++) {
    const w = grad(P, c, u);
    let enter = -1;
    for (let i = 0; i < t; i++)
      if (!free.has(i) && w[i]! < -tol && (enter < 0 || w[i]! < w[enter]!)) enter = i;
    if (enter < 0) break;
    free.add(enter);
    for (let inner = 0; inner <= t; inner++) {
      const z = solveFree(
        P,
        c,
        [...free].sort((a, b) => a - b),
        t,
      );
      let alpha = 1;
      let blocked = false;
      for (const i of free) {
        if (z[i]! <= 0) {
          blocked = true;
          const den = u[i]! - z[i]!;
          if (den > 0) alpha = Math.min(alpha, u[i]! / den);
        }
      }
      if (!blocked) {
        for (let i = 0; i < t; i++) u[i] = z[i]!;
        break;
      }
      for (let i = 0; i < t; i++) u[i] = u[i]! + alpha * (z[i]! - u[i]!);
      for (const i of [...free]) {
        if (u[i]! <= 1e-15) {
          u[i] = 0;
          free.delete(i);
        }
      }
    }
  }
  return u.map((x) => x + margin);
}

/** The objective 1/2 v^T P v + q^T v. */
export function gemObjective(
  P: readonly number[][],
  q: readonly number[],
  v: readonly number[],
): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    s += q[i]! * v[i]!;
    for (let j = 0; j < v.length; j++) s += 0.5 * v[i]! * P[i]![j]! * v[j]!;
  }
  return s;
}

function grad(P: readonly number[][], c: readonly number[], u: readonly number[]): number[] {
  return c.map((ci, i) => ci + P[i]!.reduce((a, pij, j) => a + pij * u[j]!, 0));
}

/** Solves P_FF z_F = -c_F by Gaussian elimination with partial pivoting; z is 0 outside F. */
function solveFree(
  P: readonly number[][],
  c: readonly number[],
  F: readonly number[],
  t: number,
): number[] {
  const m = F.length;
  const a = F.map((i) => [...F.map((j) => P[i]![j]!), -c[i]!]);
  for (let col = 0; col < m; col++) {
    let piv = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[piv]![col]!)) piv = r;
    [a[col], a[piv]] = [a[piv]!, a[col]!];
    const d = a[col]![col]!;
    if (d === 0) continue;
    for (let r = 0; r < m; r++) {
      if (r === col) continue;
      const f = a[r]![col]! / d;
      if (f !== 0) for (let k = col; k <= m; k++) a[r]![k] = a[r]![k]! - f * a[col]![k]!;
    }
  }
  const z = new Array<number>(t).fill(0);
  F.forEach((i, r) => {
    const d = a[r]![r]!;
    z[i] = d === 0 ? 0 : a[r]![m]! / d;
  });
  return z;
}
