import { describe, expect, it } from 'vitest';
import { ttySink } from '../test/helpers.js';
import { createProgress, type ProgressFields } from './trainProgress.js';

const stream = (isTTY: boolean) => {
  const t = ttySink(isTTY);
  return { s: t.stream, text: t.text };
};

const fields: ProgressFields = {
  learner: 'replay',
  experience: '2/5',
  epoch: '1/2',
  samplesPerSecond: 12345,
  loss: 0.25,
  accuracy: 0.9,
  cacheHitRate: 0.5,
  shares: [
    { stream: 'upright', target: 0.75, actual: 0.74 },
    { stream: 'rotated', target: 0.25, actual: 0.26 },
  ],
};

describe('training progress', () => {
  it('draws a live bar with the figures on a TTY', () => {
    const { s, text } = stream(true);
    const p = createProgress(s);
    p.begin(100, fields);
    p.update(40, fields);
    p.stop();
    const out = text();
    expect(out).toMatch(/replay \| exp 2\/5 \| epoch 1\/2 \| .*40% \| ETA/);
    expect(out).toMatch(
      /loss 0\.250 \| acc 90% \| 12,345 samples\/s \| cache 50% \| shares upright 74%\/75% rotated 26%\/25%/,
    );
  });

  it('writes plain lines when stderr is not a TTY, and nothing when quiet', () => {
    const plain = stream(false);
    const p = createProgress(plain.s, { intervalMs: 0 });
    p.begin(100, fields);
    p.update(40, fields);
    p.log('a message');
    expect(plain.text().split('\n')).toEqual([
      'replay: experience 2/5 (100 steps)',
      'replay: exp 2/5 epoch 1/2 step 40/100 | loss 0.250 | acc 90% | 12,345 samples/s | cache 50% | shares upright 74%/75% rotated 26%/25%',
      'a message',
      '',
    ]);
    const quiet = stream(false);
    const q = createProgress(quiet.s, { quiet: true });
    q.begin(1, fields);
    q.update(1, fields);
    q.log('x');
    expect(quiet.text()).toBe('');
  });
});
