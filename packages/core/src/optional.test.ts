import { describe, expect, it } from 'vitest';
import { isStreamsError } from './errors.js';
import { importOptional } from './optional.js';

const use = { by: '@streams/core', feature: 'this test' };

describe('importOptional', () => {
  it('names a package that is not installed and how to install it', async () => {
    const err = await importOptional(
      'streams-peer-that-is-not-installed',
      // @ts-expect-error: the package does not exist, which is the point
      () => import('streams-peer-that-is-not-installed'),
      use,
    ).catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_MISSING_DEPENDENCY')).toBe(true);
    expect((err as Error).message).toMatch(
      /^\[streams\/core\] this test needs the optional package streams-peer-that-is-not-installed, which is not installed\. Fix: install it next to @streams\/core: npm install streams-peer-that-is-not-installed$/,
    );
  });

  it('keeps the cause of a package that is there but fails to load, and retries later', async () => {
    let calls = 0;
    const broken = () => {
      calls++;
      return Promise.reject(new Error('libvips-cpp.so: cannot open shared object file'));
    };
    const err = await importOptional('broken-native', broken, use).catch((e: unknown) => e);
    expect(isStreamsError(err, 'STREAMS_MISSING_DEPENDENCY')).toBe(true);
    expect((err as Error).message).toContain('did not load: libvips-cpp.so');
    expect((err as Error).message).toContain('reinstall it (npm install broken-native)');
    expect(((err as Error).cause as Error).message).toContain('libvips');
    await importOptional('broken-native', broken, use).catch(() => {});
    expect(calls).toBe(2);
  });

  it('loads an installed package once', async () => {
    let calls = 0;
    const load = () => {
      calls++;
      return import('node:zlib');
    };
    const [a, b] = await Promise.all([
      importOptional('node:zlib', load, use),
      importOptional('node:zlib', load, use),
    ]);
    expect(a).toBe(b);
    expect(typeof a.gzipSync).toBe('function');
    expect(calls).toBe(1);
  });
});
