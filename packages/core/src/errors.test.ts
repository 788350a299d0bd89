import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isStreamsError, StreamsError } from './errors.js';
import { redactUrl } from './redact.js';

describe('StreamsError', () => {
  it('keeps code, cause and coordinates, and names them in the message', () => {
    const cause = new Error('ECONNRESET');
    const err = new StreamsError('STREAMS_HASH_MISMATCH', '[streams/downloader] digest differs', {
      cause,
      stream: 'train',
      shard: 'shard.00003.mds',
      sample: 42,
      url: 's3://bucket/data/shard.00003.mds',
      fix: 'delete the remote object and re-upload it',
    });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('StreamsError');
    expect(err.code).toBe('STREAMS_HASH_MISMATCH');
    expect(err.cause).toBe(cause);
    expect(err.message).toBe(
      '[streams/downloader] digest differs (stream train, shard shard.00003.mds, sample 42, s3://bucket/data/shard.00003.mds). Fix: delete the remote object and re-upload it',
    );
    expect(isStreamsError(err)).toBe(true);
    expect(isStreamsError(err, 'STREAMS_HASH_MISMATCH')).toBe(true);
    expect(isStreamsError(err, 'STREAMS_NOT_FOUND')).toBe(false);
    expect(isStreamsError(cause)).toBe(false);
  });

  it('never carries credentials or signatures, in the url field or the message', () => {
    const url =
      'https://user:hunter2@host.test/a/b.tar?X-Amz-Signature=abcdef&X-Amz-Credential=AKIA123&part=1';
    const err = new StreamsError('STREAMS_FORBIDDEN', `GET ${url} returned 403`, { url });
    for (const text of [err.message, err.url!, JSON.stringify(err)]) {
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain('abcdef');
      expect(text).not.toContain('AKIA123');
      expect(text).not.toContain('user:');
    }
    expect(err.url).toBe(
      'https://***:***@host.test/a/b.tar?X-Amz-Signature=***&X-Amz-Credential=***&part=1',
    );
  });

  it('every code has a one-line meaning', () => {
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^STREAMS_[A-Z_]+$/);
      expect(meaning.length).toBeGreaterThan(10);
      expect(meaning).not.toContain('\n');
    }
  });

  it('redactUrl leaves plain paths and clean URLs alone', () => {
    expect(redactUrl('/data/x.mds')).toBe('/data/x.mds');
    expect(redactUrl('s3://bucket/key')).toBe('s3://bucket/key');
    expect(redactUrl('https://h.test/x?token=t0ps3cret')).toBe('https://h.test/x?token=***');
  });

  it('serializes bigint sample coordinates', () => {
    const err = new StreamsError('STREAMS_SHARD_CORRUPT', 'bad', { sample: 2n ** 60n });
    expect(err.toJSON().sample).toBe('1152921504606846976');
  });
});
