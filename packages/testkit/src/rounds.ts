// Paired, alternating rounds for benchmarks: the machine is shared and its load changes within
// seconds, so no side always runs first and medians keep one noisy stretch from deciding a figure.

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * Runs `a` and `b` once each per round, `a` first on even rounds and `b` first on odd ones, after
 * `warmup` unmeasured runs of each; returns every round's values and their medians.
 */
export async function pairedRounds(
  a: () => Promise<number>,
  b: () => Promise<number>,
  options: { rounds: number; warmup?: number },
): Promise<{ a: number; b: number; as: number[]; bs: number[] }> {
  for (let w = 0; w < (options.warmup ?? 0); w++) {
    await a();
    await b();
  }
  const as: number[] = [];
  const bs: number[] = [];
  for (let k = 0; k < options.rounds; k++) {
    if (k % 2 === 0) {
      as.push(await a());
      bs.push(await b());
    } else {
      bs.push(await b());
      as.push(await a());
    }
  }
  return { a: median(as), b: median(bs), as, bs };
}
