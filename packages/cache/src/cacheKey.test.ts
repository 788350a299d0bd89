import { isStreamsError } from '@streams/core';
import { describe, expect, it } from 'vitest';
import { entryFile, validateKey } from './cacheKey.js';

describe('validateKey', () => {
  it.each([
    ['..', '".." segment'],
    ['../etc/passwd', '".." segment'],
    ['a/../../b', '".." segment'],
    ['a/./b', '"." segment'],
    ['/etc/passwd', 'absolute'],
    ['C:/Windows/x', 'drive letter'],
    ['a\\..\\b', 'backslash'],
    ['a\0b', 'NUL'],
    ['a//b', 'empty segment'],
    ['a/', 'empty segment'],
    ['', 'empty'],
  ])('rejects %j (%s)', (key, why) => {
    let caught: unknown;
    try {
      validateKey(key);
    } catch (err) {
      caught = err;
    }
    expect(isStreamsError(caught, 'STREAMS_UNSAFE_PATH')).toBe(true);
    expect((caught as Error).message).toContain(why);
    expect((caught as Error).message).toContain('Fix:');
  });

  it('rejects non-strings and overlong keys', () => {
    expect(() => validateKey(42)).toThrow(/expected a string/);
    expect(() => validateKey('a'.repeat(5000))).toThrow(/longer than/);
  });

  it.each([
    'a',
    's3/bucket/shard.00001.mds',
    'x/y z/ü.tar',
    '...',
    '..a/b..',
  ])('accepts %j', (key) => {
    expect(() => validateKey(key)).not.toThrow();
  });
});

describe('entryFile', () => {
  it('fans out by hash, keeps the basename and never builds directories from the key', () => {
    const f = entryFile('s3/bucket/dir/shard.00001.mds');
    expect(f).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{32}-shard\.00001\.mds$/);
    expect(f.split('/')).toHaveLength(2);
    expect(entryFile('a')).not.toBe(entryFile('a/a'));
  });

  it('sanitizes and shortens long or odd basenames, keeping the extension', () => {
    const f = entryFile(`d/${'x'.repeat(300)} (1).mp4`);
    const base = f.slice(f.indexOf('-') + 1);
    expect(base.length).toBeLessThanOrEqual(80);
    expect(base.endsWith('.mp4')).toBe(true);
    expect(base).toMatch(/^[A-Za-z0-9._-]+$/);
  });
});
