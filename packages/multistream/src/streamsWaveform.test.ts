import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { piecewiseSchedule } from './schedule.js';
import { SIGNAL_MAX, SIGNAL_START, StreamsWaveform } from './streamsWaveform.js';

const domains = (n: number) => ({
  label: Array.from({ length: n }, (_, i) => i % 5),
  style: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 'a' : 'b')),
});

describe('StreamsWaveform', () => {
  it('keeps signals in [0, 10], zero before the start step, 5 at start, within the smoothness bound', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.double({ min: 0.01, max: 3, noNaN: true }),
        fc.integer({ min: 1, max: 30 }),
        (seed, maxDelta, duration) => {
          const w = new StreamsWaveform({
            domains: domains(60),
            seed,
            batchSize: 2,
            maxDelta,
            duration,
            withoutReplacement: false,
            startStep: (c, v) => (c === 'label' && v === 4 ? 7 : 0),
          });
          const v4 = w.values.findIndex((v) => v.column === 'label' && v.value === 4);
          let prev: Float32Array | undefined;
          for (let t = 0; t < 60; t++) {
            const s = w.signalsAt(t);
            for (let v = 0; v < s.length; v++) {
              expect(s[v]).toBeGreaterThanOrEqual(0);
              expect(s[v]).toBeLessThanOrEqual(SIGNAL_MAX);
              if (v === v4 && t < 7) expect(s[v]).toBe(0);
              else if (t === 0 || (v === v4 && t === 7)) expect(s[v]).toBe(SIGNAL_START);
              else expect(Math.abs(s[v]! - prev![v]!)).toBeLessThanOrEqual(maxDelta + 1e-5);
            }
            prev = s;
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('signals move toward the peaks of each target', () => {
    const w = new StreamsWaveform({
      domains: domains(50),
      seed: 3,
      batchSize: 1,
      duration: 200,
      maxDelta: 0.5,
      withoutReplacement: false,
    });
    const s = w.signalsAt(100);
    // After 100 steps of 0.5 every signal has reached its target: 0 or 10.
    expect([...s].every((x) => x === 0 || x === 10)).toBe(true);
    expect([...s].some((x) => x === 10)).toBe(true);
  });

  it('draws follow the softmax of the logits within statistical bounds', () => {
    // Half the examples have a value that never switches on: logit 0 vs 5, temperature 5 -> 1 : e.
    const n = 40;
    const w = new StreamsWaveform({
      domains: { group: Array.from({ length: n }, (_, i) => (i < n / 2 ? 'on' : 'off')) },
      seed: 9,
      batchSize: 1,
      maxDelta: 0,
      temperature: 5,
      withoutReplacement: false,
      startStep: (_c, v) => (v === 'off' ? 1e9 : 0),
    });
    const draws = 20_000;
    let off = 0;
    for (const s of w.step(draws)) off += s.examples[0]! >= n / 2 ? 1 : 0;
    const p = 1 / (1 + Math.E);
    const sigma = Math.sqrt(draws * p * (1 - p));
    expect(Math.abs(off - draws * p)).toBeLessThan(5 * sigma);
    expect(w.logitsAt(0)[0]).toBe(5);
    expect(w.logitsAt(0)[n - 1]).toBe(0);
  });

  it('draws without replacement over the stream, deterministically per seed', () => {
    const make = (seed: number) =>
      new StreamsWaveform({ domains: domains(30), seed, batchSize: 4 });
    // 7 steps of 4 = 28 of the 30 examples, all distinct.
    const a = make(1)
      .step(7)
      .flatMap((s) => [...s.examples]);
    expect(a.length).toBe(28);
    expect(new Set(a).size).toBe(28);
    expect(
      make(1)
        .step(7)
        .flatMap((s) => [...s.examples]),
    ).toEqual(a);
    expect(
      make(2)
        .step(7)
        .flatMap((s) => [...s.examples]),
    ).not.toEqual(a);
  });

  it('getData holds everything before the current step; getExperience never reads past it', () => {
    const w = new StreamsWaveform({ domains: domains(100), seed: 4, batchSize: 3 });
    expect(w.currentStep).toBe(0);
    const drawn = w.step(5);
    expect(w.currentStep).toBe(5);
    const data = w.getData();
    expect(data.numRows).toBe(15);
    expect(data.schema.fields.map((f) => f.name)).toEqual(['step', 'example', 'label', 'style']);
    const example = data.getChild('example')!.toArray() as Uint32Array;
    expect([...example]).toEqual([...w.permutation]);
    expect([...(data.getChild('step')!.toArray() as Uint32Array).subarray(0, 3)]).toEqual([
      0, 0, 0,
    ]);
    expect(data.getChild('label')!.get(0)).toBe(example[0]! % 5);
    expect(data.getChild('style')!.get(0)).toBe(example[0]! % 3 === 0 ? 'a' : 'b');
    // Step 4 with a test window of 2 reads steps 5 and 6: not drawn yet, so refused.
    expect(() => w.getExperience(4, { testWindow: 2 })).toThrow(
      /not all before the current step 5/,
    );
    const exp = w.getExperience(2, { testWindow: 2 });
    expect([...exp.train]).toEqual([...drawn[2]!.examples]);
    expect([...exp.test]).toEqual([...drawn[3]!.examples, ...drawn[4]!.examples]);
    expect(() => w.drawnAt(5)).toThrow(/call step\(1\) first/);
  });

  it('draws k of n exactly by sequential softmax without replacement (grouped sampling)', () => {
    // Four examples in three groups with logits 0, 1, 2 (temperature 1); all ordered pairs of a
    // 2-draw have exact probabilities p(a) * p(b | a) under the Plackett-Luce law.
    const group = ['g0', 'g1', 'g1', 'g2'];
    const logit: Record<string, number> = { g0: 0, g1: 1, g2: 2 };
    const weights = group.map((g) => Math.exp(logit[g]!));
    const total = weights.reduce((a, b) => a + b, 0);
    const runs = 40_000;
    const counts = new Map<string, number>();
    // A fresh waveform per run: each run's step 0 is one independent 2-draw.
    for (let r = 0; r < runs; r++) {
      const one = new StreamsWaveform({
        domains: { group },
        seed: r,
        batchSize: 2,
        schedule: piecewiseSchedule([{ from: 0, weights: [0, 1, 2] }]),
      });
      const [a, b] = one.step(1)[0]!.examples;
      const key = `${a},${b}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    let checked = 0;
    for (let a = 0; a < 4; a++) {
      for (let b = 0; b < 4; b++) {
        if (a === b) {
          expect(counts.get(`${a},${b}`) ?? 0).toBe(0);
          continue;
        }
        const p = (weights[a]! / total) * (weights[b]! / (total - weights[a]!));
        const sigma = Math.sqrt(runs * p * (1 - p));
        expect(Math.abs((counts.get(`${a},${b}`) ?? 0) - runs * p)).toBeLessThan(5 * sigma);
        checked++;
      }
    }
    expect(checked).toBe(12);
  });

  it('exhaustion: refill (default) starts a new pass with an event; every pass draws each example once', () => {
    const events: Array<Record<string, unknown>> = [];
    const w = new StreamsWaveform({
      domains: domains(10),
      seed: 5,
      batchSize: 4,
      onEvent: (e) => events.push({ name: e.name, ...e.attrs }),
    });
    const all = w.step(6).flatMap((s) => [...s.examples]); // 24 draws: 2 passes of 10, then 4
    expect(all.length).toBe(24);
    expect(new Set(all.slice(0, 10)).size).toBe(10);
    expect(new Set(all.slice(10, 20)).size).toBe(10);
    // Step 2 draws the last 2 of pass 1 and 2 of pass 2, all distinct: never a short step.
    expect(new Set(all.slice(8, 12)).size).toBe(4);
    expect(events).toEqual([
      { name: 'streams.exhausted', step: 2, policy: 'refill', pass: 1, examples: 10 },
      { name: 'streams.exhausted', step: 5, policy: 'refill', pass: 2, examples: 10 },
    ]);
  });

  it('exhaustion: error throws before the step and leaves the stream intact; replacement goes on', () => {
    const w = new StreamsWaveform({
      domains: domains(10),
      seed: 5,
      batchSize: 4,
      exhaustion: 'error',
    });
    const first = w.step(2).flatMap((s) => [...s.examples]);
    expect(() => w.step(1)).toThrow(/exhausted at step 2: 2 of 10 examples are left/);
    expect(w.currentStep).toBe(2);
    expect([...w.permutation]).toEqual(first);
    const seen: string[] = [];
    const r = new StreamsWaveform({
      domains: domains(10),
      seed: 5,
      batchSize: 4,
      exhaustion: 'replacement',
      onEvent: (e) => seen.push(`${e.name}@${e.attrs?.step}`),
    });
    const steps = r.step(10);
    expect(steps.every((s) => s.examples.length === 4)).toBe(true);
    expect(seen).toEqual(['streams.exhausted@2']);
    expect(() => new StreamsWaveform({ domains: domains(3), seed: 1, batchSize: 4 })).toThrow(
      /exceeds the 3 examples/,
    );
  });

  it('initialBuffer examples are drawn at step 0, batchSize per step after', () => {
    const w = new StreamsWaveform({
      domains: domains(100),
      seed: 1,
      batchSize: 3,
      initialBuffer: 20,
    });
    expect(w.step(3).map((s) => s.examples.length)).toEqual([20, 3, 3]);
  });

  it('takes per-domain-value weights(t) from a schedule instead of the waveform', () => {
    const w = new StreamsWaveform({
      domains: { group: Array.from({ length: 20 }, (_, i) => (i < 10 ? 'x' : 'y')) },
      seed: 2,
      batchSize: 1,
      withoutReplacement: false,
      schedule: piecewiseSchedule([
        { from: 0, weights: [10, 0] },
        { from: 50, weights: [0, 10] },
      ]),
    });
    expect([...w.signalsAt(10)]).toEqual([10, 0]);
    expect([...w.signalsAt(60)]).toEqual([0, 10]);
    // exp(10) : exp(0): essentially always the favored group.
    const steps = w.step(100);
    expect(steps.slice(0, 50).filter((s) => s.examples[0]! < 10).length).toBeGreaterThanOrEqual(49);
    expect(steps.slice(50).filter((s) => s.examples[0]! >= 10).length).toBeGreaterThanOrEqual(49);
    expect(
      () =>
        new StreamsWaveform({
          domains: { g: ['a'] },
          seed: 1,
          batchSize: 1,
          schedule: piecewiseSchedule([{ from: 0, weights: [1, 2] }]),
        }),
    ).toThrow(/2 weights for 1 domain values/);
  });

  it('visualizes one domain: a line per chosen value with a legend and a step axis, SVG and PNG', async () => {
    const w = new StreamsWaveform({
      domains: domains(20),
      seed: 1,
      batchSize: 1,
      withoutReplacement: false,
    });
    w.step(30);
    const { svg, png } = await w.visualize('label', [0, 3], { png: true });
    expect(svg).toContain('<svg');
    // Legend entries are the chosen values only; the axes are titled.
    expect(svg).toMatch(/>step</);
    expect(svg).toMatch(/>signal</);
    expect(svg).toMatch(/>label</);
    const legend = [...svg.matchAll(/role-legend-label[^>]*>[\s\S]*?<text[^>]*>([^<]*)</g)].map(
      (m) => m[1],
    );
    expect(legend).toEqual(['0', '3']);
    expect(png!.subarray(1, 4).toString()).toBe('PNG');
    await expect(w.visualize('colour')).rejects.toThrow(/no domain "colour"/);
    await expect(w.visualize('label', [7])).rejects.toThrow(/has no value 7/);
  });
});
