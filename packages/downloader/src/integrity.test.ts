import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createHasher,
  HASH_ALGORITHMS,
  hashBytes,
  PYTHON_HASH_ALGORITHMS,
  parseHash,
} from './integrity.js';

describe('parseHash', () => {
  it('accepts "algo:hex" and objects, normalizing case', () => {
    expect(parseHash('SHA256:ABCD')).toEqual({ algorithm: 'sha256', digest: 'abcd' });
    expect(parseHash({ algorithm: 'xxh64', digest: '00FF' })).toEqual({
      algorithm: 'xxh64',
      digest: '00ff',
    });
    expect(parseHash('sha-1:aa')).toEqual({ algorithm: 'sha1', digest: 'aa' });
  });

  it('rejects unknown algorithms and non-hex digests with a fix', () => {
    for (const bad of ['crc64:00', 'sha256:xyz', 'nodigest', 'sha256:'])
      expect(() => parseHash(bad)).toThrow(
        expect.objectContaining({
          code: 'STREAMS_INVALID_ARGUMENT',
          fix: expect.stringContaining('sha256'),
        }),
      );
  });

  it('hashers agree with node:crypto', async () => {
    const data = new TextEncoder().encode('streams');
    for (const algo of ['sha256', 'sha1', 'md5', 'sha512'] as const) {
      const h = await createHasher(algo);
      h.update(data.subarray(0, 3));
      h.update(data.subarray(3));
      expect(h.digest('hex')).toBe(createHash(algo).update(data).digest('hex'));
    }
  });
});

describe('hashBytes and createHasher: one table for the engine and MDS', () => {
  it('agree with each other for every algorithm, chunked or whole', async () => {
    const data = new TextEncoder().encode('streams hashing, one home for every package');
    for (const algo of HASH_ALGORITHMS) {
      const h = await createHasher(algo);
      h.update(data.subarray(0, 7));
      h.update(data.subarray(7));
      expect({ algo, hex: h.digest('hex') }).toEqual({ algo, hex: await hashBytes(algo, data) });
    }
  });

  it('match reference vectors and Python names (hashlib, xxhash)', async () => {
    const empty = new Uint8Array(0);
    expect(await hashBytes('xxh32', empty)).toBe('02cc5d05');
    expect(await hashBytes('xxh64', empty)).toBe('ef46db3751d8e999');
    expect(await hashBytes('xxh3_64', empty)).toBe('2d06800538d394c2');
    expect(await hashBytes('xxh3', empty)).toBe('2d06800538d394c2');
    expect(await hashBytes('xxh128', empty)).toBe(await hashBytes('xxh3_128', empty));
    expect(await hashBytes('crc32', empty)).toBe('00000000');
    const abc = new TextEncoder().encode('abc');
    expect(await hashBytes('blake2b', abc)).toBe(
      createHash('blake2b512').update(abc).digest('hex'),
    );
    expect(await hashBytes('sha3_256', abc)).toBe(
      '3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532',
    );
    expect(PYTHON_HASH_ALGORITHMS).toContain('sha512_256');
    expect(PYTHON_HASH_ALGORITHMS).not.toContain('xxh3'); // the engine's short name only
    expect(parseHash('sha3_256:AB')).toEqual({ algorithm: 'sha3_256', digest: 'ab' });
    await expect(hashBytes('crc64', abc)).rejects.toMatchObject({
      code: 'STREAMS_INVALID_ARGUMENT',
    });
  });
});
