// Paired, alternating rounds (the one home is @streams/testkit's pairedRounds), with this
// package's defaults: BENCH_ROUNDS rounds (3) after one warm-up run of each side.
import { median, pairedRounds } from '@streams/testkit';

export { median };

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** Medians of BENCH_ROUNDS (default 3) paired runs of a and b after one warm-up run of each. */
export async function paired(
  a: () => Promise<number>,
  b: () => Promise<number>,
): Promise<{ a: number; b: number }> {
  const r = await pairedRounds(a, b, { rounds: ROUNDS, warmup: 1 });
  return { a: r.a, b: r.b };
}
