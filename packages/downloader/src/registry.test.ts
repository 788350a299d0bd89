import { describe, expect, it } from 'vitest';
import { makeBody } from './driver.js';
import { parseObjectUrl } from './objectUrl.js';
import { getDriver, registerDriver, registeredSchemes, unregisterDriver } from './registry.js';

describe('registry', () => {
  it('maps plain paths and file: URLs to the file driver, and each scheme to its driver', () => {
    expect(parseObjectUrl('/data/a b.bin')).toMatchObject({ scheme: 'file' });
    expect(parseObjectUrl('/data/a b.bin').url.pathname).toBe('/data/a%20b.bin');
    expect(parseObjectUrl('rel/x.bin').url.pathname).toBe(`${process.cwd()}/rel/x.bin`);
    expect(getDriver('/tmp/x').name).toBe('file');
    expect(getDriver('file:///tmp/x').name).toBe('file');
    expect(getDriver('https://h/x').name).toBe('http');
    expect(getDriver('HTTP://h/x')).toBe(getDriver('https://h/x'));
    expect(getDriver('s3://b/k').name).toBe('s3');
    expect(getDriver('gs://b/k').name).toBe('gs');
    expect(registeredSchemes()).toEqual(
      expect.arrayContaining(['file', 'gs', 'http', 'https', 's3']),
    );
  });

  it('rejects unknown schemes and malformed URLs with stable codes and a fix', () => {
    expect(() => getDriver('azure://c/k')).toThrow(
      expect.objectContaining({ code: 'STREAMS_UNKNOWN_SCHEME' }),
    );
    expect(() => getDriver('azure://c/k')).toThrow(/registerDriver\("azure", driver\)/);
    expect(() => getDriver('https://')).toThrow(
      expect.objectContaining({ code: 'STREAMS_INVALID_URL' }),
    );
    expect(() => getDriver('gs:///k')).toThrow(/no bucket.*gs:\/\/bucket\/key/);
    expect(() => getDriver('')).toThrow(expect.objectContaining({ code: 'STREAMS_INVALID_URL' }));
    expect(() => registerDriver('no spaces', () => getDriver('/x'))).toThrow(
      expect.objectContaining({ code: 'STREAMS_INVALID_ARGUMENT' }),
    );
  });

  it('registers user schemes and lets built-ins be replaced and restored', async () => {
    const calls: string[] = [];
    const mem = {
      name: 'mem',
      async get(url: string) {
        calls.push(url);
        return makeBody(
          (async function* () {
            yield new TextEncoder().encode('hi');
          })(),
          2,
          () => {},
        );
      },
      stat: async () => ({ size: 2 }),
      exists: async () => true,
      getRange: async () => makeBody((async function* () {})(), 0, () => {}),
      list: async () => [],
      put: async () => ({ size: 0 }),
    };
    registerDriver('mem:', mem);
    expect(getDriver('mem://x/y')).toBe(mem);
    expect(
      new TextDecoder().decode(await (await getDriver('mem://x/y').get('mem://x/y')).bytes()),
    ).toBe('hi');
    registerDriver('http', () => ({ ...mem, name: 'custom-http' }));
    expect(getDriver('http://h/x').name).toBe('custom-http');
    unregisterDriver('http');
    expect(getDriver('http://h/x').name).toBe('http');
    unregisterDriver('mem');
    expect(() => getDriver('mem://x/y')).toThrow(/no storage driver/);
    expect(calls).toEqual(['mem://x/y']);
  });
});
