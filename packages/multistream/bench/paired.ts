// Paired, alternating rounds: the machine is shared, so neither side always runs first.

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** The median of x. */
export const median = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;

/** Medians of BENCH_ROUNDS (default 3) paired runs of a and b after one warm-up run of each. */
export async function paired(
  a: () => Promise<number>,
  b: () => Promise<number>,
): Promise<{ a: number; b: number }> {
  await a();
  await b();
  const as: number[] = [];
  const bs: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    if (k % 2 === 0) {
      as.push(await a());
      bs.push(await b());
    } else {
      bs.push(await b());
      as.push(await a());
    }
  }
  return { a: median(as), b: median(bs) };
}
