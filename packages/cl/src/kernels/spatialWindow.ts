import { pad, reshape, slice, type Tensor } from '@tensorflow/tfjs-core';

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
  return slice(padded, begin, [-1, ...sizes, -1]) as T;
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
    y = slice(spread, 0, size);
  });
  return y as T;
}
