/**
 * Seeded randomness for everything streams decides: shuffles, resampling, augmentations.
 *
 * Algorithm: xoshiro128** 1.1 (Blackman & Vigna), a 32-bit generator with 128 bits of state and
 * period 2^128 - 1. Its state is seeded from a 64-bit key with SplitMix64: two outputs a, b give
 * the state words [lo(a), hi(a), lo(b), hi(b)]. Keys for (seed, epoch, purpose) are derived by
 * {@link deriveKey}. Both generators match the published C reference implementations bit for bit
 * (see prng.test.ts for the vectors), so a plan computed here is the same on every machine.
 */

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64: the generator used to seed and to mix keys. */
export class SplitMix64 {
  private state: bigint;

  constructor(seed: bigint | number) {
    this.state = BigInt.asUintN(64, BigInt(seed));
  }

  /** The next 64-bit output as an unsigned bigint. */
  next(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK64;
    return mix64(this.state);
  }
}

/** The SplitMix64 output function (a 64-bit finalizer with good avalanche). */
export function mix64(value: bigint): bigint {
  let z = BigInt.asUintN(64, value);
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** FNV-1a over the UTF-8 bytes of `text`, 64-bit: turns a purpose name into a key part. */
export function fnv1a64(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & MASK64;
  }
  return h;
}

/** A key part: integers are taken as 64-bit two's complement, strings are hashed with FNV-1a. */
export type KeyPart = number | bigint | string;

/**
 * Derives an independent 64-bit key from a seed and any number of parts, for example
 * `deriveKey(seed, epoch, 'shuffle')`. Each part is mixed in with SplitMix64's finalizer, so
 * changing any part (or their order) gives an unrelated key.
 */
export function deriveKey(seed: number | bigint, ...parts: KeyPart[]): bigint {
  let key = mix64(BigInt.asUintN(64, toBigInt(seed)) ^ 0x5354524541_4d53n); // "STREAMS"
  for (const part of parts) {
    const value = typeof part === 'string' ? fnv1a64(part) : BigInt.asUintN(64, toBigInt(part));
    key = mix64((key + 0x9e3779b97f4a7c15n + value) & MASK64);
  }
  return key;
}

function toBigInt(value: number | bigint): bigint {
  if (typeof value === 'bigint') return value;
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(
      `[streams/core] PRNG seeds and key parts must be safe integers, got ${value}`,
    );
  }
  return BigInt(value);
}

/** A fast seeded generator (xoshiro128**) with the helpers data pipelines need. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Seeds from a 64-bit key through SplitMix64. Use {@link rng} to derive keys from parts. */
  constructor(key: bigint | number) {
    const sm = new SplitMix64(key);
    const a = sm.next();
    const b = sm.next();
    this.s0 = Number(a & 0xffffffffn) >>> 0;
    this.s1 = Number(a >> 32n) >>> 0;
    this.s2 = Number(b & 0xffffffffn) >>> 0;
    this.s3 = Number(b >> 32n) >>> 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Makes a generator from raw state words, as the reference implementation does. */
  static fromState(state: readonly [number, number, number, number]): Rng {
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = state.map((x) => x >>> 0) as [number, number, number, number];
    return r;
  }

  /** The current state, to save and restore a generator exactly. */
  getState(): [number, number, number, number] {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** An unbiased integer in [0, n) for 1 <= n <= 2^32 (Lemire's method with rejection). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) {
      throw new RangeError(`[streams/core] Rng.int needs an integer n in [1, 2^32], got ${n}`);
    }
    if (n > 0x200000) return this.intWide(n);
    // n * x fits in 53 bits here, so plain float arithmetic is exact.
    let x = this.nextUint32();
    let m = x * n;
    let low = m % 0x100000000;
    if (low < n) {
      const threshold = 0x100000000 % n;
      while (low < threshold) {
        x = this.nextUint32();
        m = x * n;
        low = m % 0x100000000;
      }
    }
    return Math.floor(m / 0x100000000);
  }

  private intWide(n: number): number {
    // Rejection sampling on the smallest power-of-two range above n.
    const bits = Math.ceil(Math.log2(n));
    const mask = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
    for (;;) {
      const x = (this.nextUint32() & mask) >>> 0;
      if (x < n) return x;
    }
  }

  /** An integer in [min, max] inclusive. */
  intBetween(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** A standard normal deviate (Box-Muller, one value per call). */
  normal(mean = 0, std = 1): number {
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `array` in place with Fisher-Yates (Durstenfeld) and returns it. */
  shuffle<A extends { length: number; [i: number]: unknown }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A permutation of 0..n-1 as a Uint32Array. */
  permutation(n: number): Uint32Array {
    const out = new Uint32Array(n); // [n]
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  /** `k` distinct integers from [0, n), in random order (Floyd's algorithm for small k). */
  sample(n: number, k: number): number[] {
    if (k > n)
      throw new RangeError(`[streams/core] cannot sample ${k} of ${n} without replacement`);
    if (k * 4 > n) return Array.from(this.permutation(n).subarray(0, k));
    const chosen = new Set<number>();
    for (let j = n - k; j < n; j++) {
      const t = this.int(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    return this.shuffle([...chosen]);
  }

  /** An independent generator for a sub-purpose, derived from this one's next outputs. */
  fork(purpose: KeyPart): Rng {
    const key = (BigInt(this.nextUint32()) << 32n) | BigInt(this.nextUint32());
    return new Rng(deriveKey(key, purpose));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The generator for (seed, ...parts), e.g. `rng(seed, epoch, 'shuffle')`. */
export function rng(seed: number | bigint, ...parts: KeyPart[]): Rng {
  return new Rng(deriveKey(seed, ...parts));
}
