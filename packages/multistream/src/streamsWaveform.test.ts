import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    const a = make(1)
      .step(10)
      .flatMap((s) => [...s.examples]);
    expect(a.length).toBe(30);
    expect(new Set(a).size).toBe(30);
    expect(
      make(1)
        .step(10)
        .flatMap((s) => [...s.examples]),
    ).toEqual(a);
    expect(
      make(2)
        .step(10)
        .flatMap((s) => [...s.examples]),
    ).not.toEqual(a);
  });

  it('getData holds everything before the current step; getExperience gives train and test windows', () => {
    const w = new StreamsWaveform({ domains: domains(100), seed: 4, batchSize: 3 });
    expect(w.currentStep).toBe(0);
    const drawn = w.step(5);
    expect(w.currentStep).toBe(5);
    const data = w.getData();
    expect(data.numRows).toBe(15);
    expect(data.schema.fields.map((f) => f.name)).toEqual(['step', 'example', 'label', 'style']);
    const example = data.getChild('example')!.toArray() as Uint32Array;
    expect([...(data.getChild('step')!.toArray() as Uint32Array).subarray(0, 3)]).toEqual([
      0, 0, 0,
    ]);
    expect(data.getChild('label')!.get(0)).toBe(example[0]! % 5);
    expect(data.getChild('style')!.get(0)).toBe(example[0]! % 3 === 0 ? 'a' : 'b');
    const exp = w.getExperience(4, { testWindow: 2 });
    expect([...exp.train]).toEqual([...drawn[4]!.examples]);
    expect(exp.test.length).toBe(6);
    // Looking ahead does not change what step() returns later.
    const next = w.step(1)[0]!;
    expect([...next.examples]).toEqual([...exp.test.subarray(0, 3)]);
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

  it('writes an SVG of the signals, and a PNG through sharp', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'streams-wave-'));
    try {
      const w = new StreamsWaveform({
        domains: domains(20),
        seed: 1,
        batchSize: 1,
        withoutReplacement: false,
      });
      w.step(30);
      const out = await w.visualizeSignals(join(dir, 'signals.svg'), { png: true });
      const svg = await readFile(out.svg, 'utf8');
      expect(svg).toContain('<svg');
      expect(svg.match(/<polyline/g)?.length).toBe(w.values.length);
      expect((await stat(out.png!)).size).toBeGreaterThan(100);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
