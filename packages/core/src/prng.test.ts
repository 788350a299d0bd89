import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveKey, fnv1a64, Rng, rng, SplitMix64 } from './prng.js';

// Vectors printed by the published C reference implementations of SplitMix64 and xoshiro128** 1.1,
// compiled with gcc (see the module comment for the seeding rule).
describe('reference vectors', () => {
  it('SplitMix64 from seed 1234567', () => {
    const sm = new SplitMix64(1234567);
    expect([sm.next(), sm.next(), sm.next(), sm.next(), sm.next()]).toEqual([
      6457827717110365317n,
      3203168211198807973n,
      9817491932198370423n,
      4593380528125082431n,
      16408922859458223821n,
    ]);
  });

  it('xoshiro128** from state [1, 2, 3, 4]', () => {
    const r = Rng.fromState([1, 2, 3, 4]);
    const out = Array.from({ length: 8 }, () => r.nextUint32());
    expect(out).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849,
    ]);
  });

  it('xoshiro128** seeded through SplitMix64 from key 42', () => {
    const r = new Rng(42n);
    const out = Array.from({ length: 8 }, () => r.nextUint32());
    expect(out).toEqual([
      1776835114, 4165204688, 17111135, 2317295270, 2792088233, 2554630222, 2940343271, 2244566231,
    ]);
  });

  it('FNV-1a 64 of known strings', () => {
    expect(fnv1a64('')).toBe(0xcbf29ce484222325n);
    expect(fnv1a64('a')).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64('foobar')).toBe(0x85944171f73967e8n);
  });
});

describe('key derivation', () => {
  it('is deterministic and sensitive to every part and their order', () => {
    const base = deriveKey(7, 3, 'shuffle');
    expect(deriveKey(7, 3, 'shuffle')).toBe(base);
    const others = [
      deriveKey(8, 3, 'shuffle'),
      deriveKey(7, 4, 'shuffle'),
      deriveKey(7, 3, 'sample'),
      deriveKey(7, 'shuffle', 3),
    ];
    for (const k of others) expect(k).not.toBe(base);
    expect(new Set(others).size).toBe(others.length);
  });

  it('derived streams are uncorrelated', () => {
    const a = rng(1, 0, 'a');
    const b = rng(1, 0, 'b');
    const n = 20_000;
    let sab = 0;
    let sa = 0;
    let sb = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = 0; i < n; i++) {
      const x = a.float();
      const y = b.float();
      sa += x;
      sb += y;
      sab += x * y;
      saa += x * x;
      sbb += y * y;
    }
    const cov = sab / n - (sa / n) * (sb / n);
    const corr = cov / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
    expect(Math.abs(corr)).toBeLessThan(0.05);
  });

  it('rejects unsafe integer seeds', () => {
    expect(() => deriveKey(2 ** 60)).toThrow(/safe integers/);
  });
});

describe('Rng helpers', () => {
  it('float is in [0, 1) with mean near 1/2', () => {
    const r = rng(5);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const x = r.float();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      sum += x;
    }
    expect(Math.abs(sum / 10_000 - 0.5)).toBeLessThan(0.02);
  });

  it('int(n) stays in range and is uniform (chi-squared)', () => {
    const r = rng(9);
    const n = 10;
    const counts = new Array<number>(n).fill(0);
    const draws = 50_000;
    for (let i = 0; i < draws; i++) counts[r.int(n)]!++;
    const expected = draws / n;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(27.88); // p = 0.001 for 9 degrees of freedom
  });

  it('int handles wide ranges up to 2^32', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 32 }), fc.integer(), (n, seed) => {
        const x = rng(seed).int(n);
        return Number.isInteger(x) && x >= 0 && x < n;
      }),
    );
    expect(() => rng(1).int(0)).toThrow(RangeError);
  });

  it('shuffle and permutation are permutations, deterministic per seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.integer(), (n, seed) => {
        const p = rng(seed, 'perm').permutation(n);
        const q = rng(seed, 'perm').permutation(n);
        expect(Array.from(p)).toEqual(Array.from(q));
        expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
    );
  });

  it('sample draws distinct values', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer(), (n, seed) => {
        const k = Math.floor(n / 7) + 1;
        const s = rng(seed).sample(n, k);
        return s.length === k && new Set(s).size === k && s.every((x) => x >= 0 && x < n);
      }),
    );
  });

  it('getState/fromState restores the exact sequence', () => {
    const r = rng(3, 'x');
    r.nextUint32();
    const copy = Rng.fromState(r.getState());
    expect(copy.nextUint32()).toBe(r.nextUint32());
    expect(copy.float()).toBe(r.float());
  });

  it('normal has mean 0 and std 1', () => {
    const r = rng(11);
    const xs = Array.from({ length: 20_000 }, () => r.normal());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
  });

  it('fork gives a stream independent of the parent continuation', () => {
    const parent = rng(1);
    const child = parent.fork('aug');
    expect(child.nextUint32()).not.toBe(parent.nextUint32());
  });
});
