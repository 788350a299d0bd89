import { describe, expect, it } from 'vitest';
import { EventHub, type StreamsEvent } from './events.js';
import { formatBytes, parseBytes, settings } from './settings.js';

describe('settings', () => {
  it('reads STREAMS_CACHE_DIR and STREAMS_DATA_DIR, with XDG fallbacks', () => {
    expect(settings({ STREAMS_CACHE_DIR: '/c', STREAMS_DATA_DIR: '/d' })).toEqual({
      cacheDir: '/c',
      dataDir: '/d',
    });
    expect(settings({ HOME: '/home/u' })).toEqual({
      cacheDir: '/home/u/.cache/streams',
      dataDir: '/home/u/.local/share/streams',
    });
    expect(settings({ HOME: '/h', XDG_CACHE_HOME: '/x' }).cacheDir).toBe('/x/streams');
  });

  it('parses byte sizes in powers of 1024 like MosaicML bytes_to_int, and rejects garbage', () => {
    expect(parseBytes(123)).toBe(123);
    expect(parseBytes('20gb')).toBe(20 * 2 ** 30);
    expect(parseBytes('64MB')).toBe(64 * 2 ** 20);
    expect(parseBytes('512 MiB')).toBe(512 * 2 ** 20);
    expect(parseBytes('1.5kb')).toBe(1536);
    expect(parseBytes('100b')).toBe(100);
    expect(parseBytes('7')).toBe(7);
    for (const bad of ['', 'lots', '-1gb', '1xb', -5, 1.5, Number.NaN]) {
      expect(() => parseBytes(bad as string | number, 'cacheLimit')).toThrow(/cacheLimit/);
    }
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(12)).toBe('12 B');
  });
});

describe('EventHub', () => {
  it('delivers events with source and time, isolates throwing listeners', () => {
    const hub = new EventHub('cache');
    const seen: StreamsEvent[] = [];
    expect(hub.active).toBe(false);
    hub.on(() => {
      throw new Error('bad listener');
    });
    const off = hub.on((e) => seen.push(e));
    hub.emit({ kind: 'metric', name: 'cache.hit', counters: { hits: 1 } });
    off();
    hub.emit({ kind: 'metric', name: 'cache.hit' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      source: 'cache',
      kind: 'metric',
      name: 'cache.hit',
      counters: { hits: 1 },
    });
    expect(typeof seen[0]!.time).toBe('number');
  });
});
