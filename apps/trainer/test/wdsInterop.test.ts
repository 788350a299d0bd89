// A WebDataset written by `streams convert --format wds` read by WebDataset's own rules, in
// Python: members grouped into samples by `base_plus_ext` (tariterators.py) and decoded by
// `basichandlers` (autodecode.py), as in webdataset/webdataset at e0953f9. The `webdataset` package
// is not installable here (no PyPI), so the script below carries those two rules (the grouping
// regex and the decoder table for the extensions the writer uses, npy through NumPy's own
// `read_array`); what it must agree with is the data the dataset was written from.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MdsWriter } from '@streams/index';
import { numpyPython } from '@streams/testkit';
import { describe, expect, it } from 'vitest';
import { cli, expected, PLAIN, tempDir } from './helpers.js';

const READ_LIKE_WEBDATASET = `
import io, json, re, sys, tarfile
import numpy.lib.format

def base_plus_ext(path):  # tariterators.py
    m = re.match(r"^((?:.*/|)[^.]+)[.]([^/]*)$", path)
    return (None, None) if not m else (m.group(1), m.group(2))

def npy_loads(data):  # autodecode.py
    return numpy.lib.format.read_array(io.BytesIO(data))

decoders = {  # autodecode.py: the basichandlers table, the entries a streams writer can produce
    "txt": lambda d: d.decode("utf-8"), "text": lambda d: d.decode("utf-8"),
    "cls": int, "cls2": int, "index": int, "inx": int, "id": int,
    "json": json.loads, "jsn": json.loads, "npy": npy_loads,
}

def basichandlers(key, data):
    ext = re.sub(r".*[.]", "", key)
    return decoders[ext](data) if ext in decoders else None

def plain(v):
    if isinstance(v, (bytes, bytearray)):
        return {"hex": v.hex()}
    if hasattr(v, "dtype"):
        return {"dtype": str(v.dtype), "shape": list(v.shape), "data": v.ravel().tolist()}
    return v

for path in sys.argv[1:]:
    current, sample = None, {}
    with tarfile.open(path) as tar:
        for m in tar:
            if not m.isfile():
                continue
            key, suffix = base_plus_ext(m.name)
            if key is None:
                continue
            if key != current:  # group_by_keys
                if sample:
                    print(json.dumps(sample))
                current, sample = key, {"__key__": key}
            data = tar.extractfile(m).read()
            decoded = basichandlers(suffix, data)
            sample[suffix] = plain(data if decoded is None else decoded)
    if sample:
        print(json.dumps(sample))
`;

/** Every sample of the WebDataset in `dir`, as WebDataset's rules read it. */
function readLikeWebDataset(dir: string): Record<string, unknown>[] {
  const tars = readdirSync(dir)
    .filter((f) => f.endsWith('.tar'))
    .sort()
    .map((f) => join(dir, f));
  const out = execFileSync(numpyPython(), ['-c', READ_LIKE_WEBDATASET, ...tars], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return out
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('a converted WebDataset, read by WebDataset rules (Python)', () => {
  it('gives back every column with its type: text, ints, floats, JSON, raw bytes', async () => {
    await using tmp = await tempDir();
    const wds = join(tmp.dir, 'wds');
    const converted = await cli(['convert', PLAIN, wds, '--format', 'wds', '-q']);
    expect(converted.code, converted.err).toBe(0);
    const got = readLikeWebDataset(wds);
    const want = await expected();
    expect(got).toHaveLength(want.length);
    got.forEach((s, i) => {
      const w = want[i]!;
      expect(s['name.txt']).toBe(w.name);
      expect(s.id).toBe(w.id); // `.id` is decoded to an int by WebDataset
      expect(s['label.json']).toBe(w.label);
      expect(s['score.json']).toBe(w.score);
      expect(s['meta.json']).toEqual(w.meta);
      expect(s['u8.json']).toBe(w.u8);
      expect(s['i64.json']).toBe(w.i64);
      expect(s['f32.json']).toBe(Math.fround(w.f32 as number));
      expect(s.blob).toEqual(w.blob); // no decoder: bytes, as written
    });
  }, 60_000);

  it('gives back ndarray columns as NumPy arrays of the same dtype, shape and values', async () => {
    await using tmp = await tempDir();
    const mds = join(tmp.dir, 'mds');
    const wds = join(tmp.dir, 'wds');
    const w = new MdsWriter({ out: mds, columns: { emb: 'ndarray:float32:2,3', ids: 'ndarray' } });
    const rows = Array.from({ length: 5 }, (_, i) => ({
      emb: {
        dtype: 'float32',
        shape: [2, 3],
        data: Float32Array.from({ length: 6 }, (_, j) => i - j / 4),
      }, // [2, 3]
      ids: {
        dtype: 'int64',
        shape: [i + 1],
        data: BigInt64Array.from({ length: i + 1 }, (_, j) => BigInt(j - i)),
      }, // [i + 1]
    }));
    for (const r of rows) await w.write(r);
    await w.finish();
    const converted = await cli(['convert', mds, wds, '--format', 'wds', '-q']);
    expect(converted.code, converted.err).toBe(0);
    const got = readLikeWebDataset(wds);
    expect(got.map((s) => s['emb.npy'])).toEqual(
      rows.map((r) => ({ dtype: 'float32', shape: [2, 3], data: Array.from(r.emb.data) })),
    );
    expect(got.map((s) => s['ids.npy'])).toEqual(
      rows.map((r) => ({
        dtype: 'int64',
        shape: r.ids.shape,
        data: Array.from(r.ids.data, Number),
      })),
    );
  }, 60_000);
});
