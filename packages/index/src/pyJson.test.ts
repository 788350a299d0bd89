import { describe, expect, it } from 'vitest';
import { compareCodePoints, pyFloatRepr, pyJsonDumps, pyJsonString } from './pyJson.js';

describe('pyFloatRepr', () => {
  it.each([
    [1, '1.0'],
    [0, '0.0'],
    [-0, '-0.0'],
    [0.1, '0.1'],
    [1e-5, '1e-05'],
    [1.5e-5, '1.5e-05'],
    [0.0001, '0.0001'],
    [1e15, '1000000000000000.0'],
    [1e16, '1e+16'],
    [123456789012345680000, '1.2345678901234568e+20'],
    [5e-324, '5e-324'],
    [0.14285714285714285, '0.14285714285714285'],
    [-2.5, '-2.5'],
    [Number.NaN, 'NaN'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
  ])('%s -> %s (as Python repr)', (x, text) => {
    expect(pyFloatRepr(x)).toBe(text);
  });
});

describe('pyJsonDumps', () => {
  it('escapes like ensure_ascii=True, including astral characters and DEL', () => {
    expect(pyJsonString('é✓"\\\n\u007f😀')).toBe('"\\u00e9\\u2713\\"\\\\\\n\\u007f\\ud83d\\ude00"');
  });
  it('uses Python separators and sorts keys by code point when asked', () => {
    expect(pyJsonDumps({ b: [1, 2.5, null], a: { z: true, y: 'x' } }, { sortKeys: true })).toBe(
      '{"a": {"y": "x", "z": true}, "b": [1, 2.5, null]}',
    );
    expect(pyJsonDumps({ b: 1, a: 2 })).toBe('{"b": 1, "a": 2}');
    expect(pyJsonDumps(12345678901234567890n)).toBe('12345678901234567890');
  });
  it('compares by code point, not UTF-16 unit', () => {
    // U+FF5E sorts before U+1F600 by code point, after it by UTF-16 units.
    expect(['😀', '～'].sort(compareCodePoints)).toEqual(['～', '😀']);
  });
});
