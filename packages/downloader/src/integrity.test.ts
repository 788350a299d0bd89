import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compressionOf } from './decompress.js';
import { createHasher, parseHash } from './integrity.js';

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

describe('compressionOf', () => {
  it('knows the extensions the engine decompresses', () => {
    expect(compressionOf('/a/shard.00000.mds.zstd')).toEqual({
      compression: 'zstd',
      stripped: '/a/shard.00000.mds',
    });
    expect(compressionOf('x.tar.GZ')).toEqual({ compression: 'gzip', stripped: 'x.tar' });
    expect(compressionOf('x.bz2')?.compression).toBe('bzip2');
    expect(compressionOf('x.br')?.compression).toBe('brotli');
    expect(compressionOf('x.zst')?.compression).toBe('zstd');
    expect(compressionOf('x.mds.snappy')?.compression).toBe('snappy');
    expect(compressionOf('x.bin')).toBeUndefined();
    expect(compressionOf('.gz')).toBeUndefined();
  });
});
