import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';
import { isStreamsError } from './errors.js';

describe('parseDuration', () => {
  it('reads units, and a bare number as seconds like a MosaicML config', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1.5H')).toBe(5_400_000);
    expect(parseDuration(' 1d ')).toBe(86_400_000);
    // download_timeout: 60 in a MosaicML YAML is one minute.
    expect(parseDuration(60, 'download_timeout')).toBe(60_000);
    expect(parseDuration('60')).toBe(60_000);
    expect(parseDuration(0.25)).toBe(250);
  });

  it('refuses garbage, zero and negatives with the field name and a fix', () => {
    for (const bad of ['', 'soon', '-1s', '10 minutes', '1w', '0', 0, -5, Number.NaN, Infinity]) {
      let err: unknown;
      try {
        parseDuration(bad, 'downloadTimeout');
      } catch (e) {
        err = e;
      }
      expect(isStreamsError(err) && err.code).toBe('STREAMS_INVALID_CONFIG');
      expect((err as Error).message).toMatch(/downloadTimeout: .* is not a duration/);
      expect((err as Error).message).toMatch(
        /Fix: give downloadTimeout a positive number of seconds/,
      );
    }
  });
});
