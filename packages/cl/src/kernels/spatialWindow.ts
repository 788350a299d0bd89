import { pad, reshape, slice, type Tensor, util } from '@tensorflow/tfjs-core';

/**
 * The region of `x` (channels last: [batch, ...spatial, channels]) that starts at `starts[i]` on
 * spatial axis i (negative starts reach into zero padding) and spans `sizes[i]`, with zeros
 * wherever it leaves `x`: the padded and cropped input that a strided window reads.
 */
export function spatialWindow<T extends Tensor>(x: T, starts: number[], sizes: number[]): T {
  const paddings: [number, number][] = [[0, 0]];
  const begin = [0];
  starts.forEach((start, i) => {
    const length = x.shape[i + 1]!;
    paddings.push([Math.max(0, -start), Math.max(0, start + sizes[i]! - length)]);
    begin.push(Math.max(0, start));
  });
  paddings.push([0, 0]);
  begin.push(0);
  const padded = paddings.some(([a, b]) => a > 0 || b > 0) ? pad(x, paddings) : x;
  return sliceFast(padded, begin, [padded.shape[0]!, ...sizes, padded.shape.at(-1)!]);
}

/**
 * tf.slice, fast on wasm too: its Slice kernel takes a slow generic path above rank 4 (about 50x
 * slower measured on a [8,9,17,17,4] tensor), so higher ranks are cut one axis at a time as
 * rank-3 views [before, axis, after].
 */
export function sliceFast<T extends Tensor>(x: T, begin: number[], size: number[]): T {
  if (x.rank <= 4) return slice(x, begin, size);
  let y: Tensor = x;
  for (let a = 0; a < x.rank; a++) {
    const shape = y.shape;
    if (begin[a] === 0 && size[a] === shape[a]) continue;
    const outer = util.sizeFromShape(shape.slice(0, a));
    const inner = util.sizeFromShape(shape.slice(a + 1));
    const cut = slice(
      reshape(y, [outer, shape[a]!, inner]),
      [0, begin[a]!, 0],
      [outer, size[a]!, inner],
    );
    y = reshape(cut, [...shape.slice(0, a), size[a]!, ...shape.slice(a + 1)]);
  }
  return y as T;
}

/**
 * Spreads the elements of `x` [batch, ...spatial, channels] `strides[i]` apart along spatial axis
 * i, zeros between them (n becomes (n-1)*stride+1): the input of the stride-1 convolution that
 * equals a transposed strided one. One axis at a time, so no tensor exceeds rank 6.
 */
export function zeroInsert<T extends Tensor>(x: T, strides: number[]): T {
  let y: Tensor = x;
  strides.forEach((stride, i) => {
    if (stride === 1) return;
    const axis = i + 1;
    const shape = y.shape;
    const n = shape[axis]!;
    const split = reshape(y, [...shape.slice(0, axis + 1), 1, ...shape.slice(axis + 1)]);
    const paddings = split.shape.map((_, j): [number, number] =>
      j === axis + 1 ? [0, stride - 1] : [0, 0],
    );
    const spread = reshape(pad(split, paddings), [
      ...shape.slice(0, axis),
      n * stride,
      ...shape.slice(axis + 1),
    ]);
    const size = [...shape];
    size[axis] = (n - 1) * stride + 1;
    y = sliceFast(spread, new Array<number>(size.length).fill(0), size);
  });
  return y as T;
}
