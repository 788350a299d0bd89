import { beforeAll, describe, expect, it } from 'vitest';
import { ContinualLearner } from '../src/continualLearner.js';
import { clMetrics } from '../src/metrics.js';
import { runScenario, scenario, toyOptions } from './scenarios.js';
import { useTestBackend } from './tfBackend.js';

// What each strategy keeps of experience 0 is asserted per strategy by the conformance suite
// (strategies.test.ts); this file pins the baseline they are measured against.
describe('naive fine-tuning forgets', () => {
  beforeAll(useTestBackend);

  it('the first classes in class-incremental learning, almost entirely', async () => {
    const s = scenario('split');
    const l = new ContinualLearner(toyOptions(s, { name: 'naive' }));
    const R = await runScenario(s, l);
    l.dispose();
    expect(R[0]![0]).toBeGreaterThan(0.75);
    expect(R[1]![0]).toBeLessThan(0.15);
    expect(clMetrics(R).forgetting.max).toBeGreaterThan(0.6);
  });

  it('the first domain when the inputs are permuted', async () => {
    const s = scenario('permuted');
    const l = new ContinualLearner(toyOptions(s, { name: 'naive' }));
    const R = await runScenario(s, l);
    l.dispose();
    expect(R[0]![0]).toBeGreaterThan(0.95);
    expect(R[2]![0]).toBeLessThan(R[0]![0]! - 0.2);
    expect(clMetrics(R).bwt).toBeLessThan(-0.1);
  });
});
