import { isStreamsError, rng } from '@streams/core';
import { describe, expect, it } from 'vitest';
import { decodeText, selectCaption, tokenize } from './decodeText.js';

describe('text', () => {
  it('decodes UTF-8, drops the BOM, and rejects invalid bytes', () => {
    expect(decodeText(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xc3, 0xa9]))).toBe('hé');
    let err: unknown;
    try {
      decodeText(new Uint8Array([0x68, 0xff]));
    } catch (e) {
      err = e;
    }
    expect(isStreamsError(err, 'STREAMS_DECODE_FAILED')).toBe(true);
    expect(decodeText(new Uint8Array([0x68, 0xff]), { lenient: true })).toBe('h\ufffd');
  });

  it('selects a caption among several fields and lists, reproducibly under a seed', () => {
    const sample = {
      caption: 'a cat',
      txt: new TextEncoder().encode('a small cat'),
      alt: ['', 'kitten on a mat'],
      json: '["cat photo", "feline"]',
      empty: '',
    };
    const fields = ['caption', 'txt', 'alt', 'json', 'empty', 'missing'];
    const all = new Set<string>();
    for (let s = 0; s < 60; s++) all.add(selectCaption(sample, fields, rng(s))!);
    expect([...all].sort()).toEqual([
      'a cat',
      'a small cat',
      'cat photo',
      'feline',
      'kitten on a mat',
    ]);
    expect(selectCaption(sample, fields, rng(9))).toBe(selectCaption(sample, fields, rng(9)));
    expect(selectCaption(sample, ['empty', 'txt'], rng(0), { strategy: 'first' })).toBe(
      'a small cat',
    );
    expect(selectCaption({ empty: '' }, ['empty'], rng(0))).toBeUndefined();
  });

  it('tokenizes with a hook, padding and truncating', async () => {
    const chars = (t: string) => Array.from(t, (c) => c.charCodeAt(0));
    const short = await tokenize('ab', chars, { maxLength: 4, padId: -1 });
    expect(Array.from(short.ids)).toEqual([97, 98, -1, -1]);
    expect(Array.from(short.mask)).toEqual([1, 1, 0, 0]);
    const long = await tokenize('abcdef', async (t) => chars(t), { maxLength: 3 });
    expect(Array.from(long.ids)).toEqual([97, 98, 99]);
    expect(long.length).toBe(3);
  });

  it('the text preset decodes, selects and tokenizes; a sample without text fails typed', async () => {
    const { text } = await import('./presets.js');
    const prep = text({
      fields: ['txt'],
      tokenizer: (t) => Array.from(t, (c) => c.charCodeAt(0)),
      maxLength: 4,
    });
    const out = await prep({ txt: new TextEncoder().encode('hello') }, rng(0));
    expect(out.text).toBe('hello');
    expect(Array.from(out.tokens!.ids)).toEqual([104, 101, 108, 108]);
    await expect(prep({ other: 'x' }, rng(0), { coords: { sample: 1 } })).rejects.toMatchObject({
      code: 'STREAMS_DECODE_FAILED',
      sample: 1,
    });
  });
});
