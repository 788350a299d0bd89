// The WASM training kernels against the CPU backend's own kernels: random shapes, strides,
// padding, dilations and channel multipliers (fast-check), the same inputs on both, max abs error
// within float32 round-off. Dilated depthwise cases, which the cpu kernels get wrong, are checked
// against the definition in float64; Conv2DBackpropInput, which wasm ships, is checked too.
import { rng } from '@streams/core';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../backend.js';

type Spec = { shape: number[]; dtype?: 'float32' | 'int32'; values?: number[] };
type Inputs = Record<string, Required<Spec>>;

/** Float32 round-off of sums of a few hundred products of numbers in [-1, 1], with margin. */
const TOLERANCE = 2e-5;
let worst = 0;

beforeAll(async () => {
  await import('@tensorflow/tfjs-backend-cpu');
  await selectBackend({ backend: 'wasm' });
});

/** The inputs of one case: given values, else uniform in [-1, 1) drawn from `seed`. */
function makeInputs(specs: Record<string, Spec>, seed: number): Inputs {
  const r = rng(seed, 'kernel-inputs');
  return Object.fromEntries(
    Object.entries(specs).map(([name, { shape, dtype = 'float32', values }]) => [
      name,
      {
        shape,
        dtype,
        values:
          values ?? Array.from({ length: tf.util.sizeFromShape(shape) }, () => r.float() * 2 - 1),
      },
    ]),
  );
}

/** Runs one kernel on `backend`; returns its output. */
async function run(backend: 'cpu' | 'wasm', kernel: string, inputs: Inputs, attrs: object) {
  await tf.setBackend(backend);
  const tensors: tf.NamedTensorMap = {};
  for (const [name, { shape, dtype, values }] of Object.entries(inputs)) {
    tensors[name] = tf.tensor(values, shape, dtype);
  }
  const out = tf.engine().runKernel(kernel, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
  const result = { shape: out.shape, values: Array.from(await out.data()) };
  tf.dispose([out, ...Object.values(tensors)]);
  return result;
}

/** Asserts `got` equals `want` within float32 round-off, relative to the largest value. */
function expectClose(got: number[], want: number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  let scale = 1;
  let err = 0;
  want.forEach((v, i) => {
    scale = Math.max(scale, Math.abs(v));
    err = Math.max(err, Math.abs(v - got[i]!));
  });
  worst = Math.max(worst, err / scale);
  expect(err / scale, what).toBeLessThanOrEqual(TOLERANCE);
}

/** Asserts the kernel gives the same output on wasm as on cpu. */
async function expectSame(
  kernel: string,
  specs: Record<string, Spec>,
  attrs: object,
  seed: number,
): Promise<void> {
  const inputs = makeInputs(specs, seed);
  const want = await run('cpu', kernel, inputs, attrs);
  const got = await run('wasm', kernel, inputs, attrs);
  expect(got.shape).toEqual(want.shape);
  expectClose(got.values, want.values, `${kernel} ${JSON.stringify(attrs)}`);
}

/**
 * Both depthwise gradients by their definition, in float64: the CPU kernels ignore dilations
 * (tfjs's own gradient never passes them), so dilated cases are checked against this instead.
 */
function depthwiseReference(
  x: number[],
  dy: number[],
  w: number[],
  c: tf.backend_util.Conv2DInfo,
): { dx: number[]; dw: number[] } {
  const ch = c.inChannels;
  const m = c.outChannels / ch;
  const dx = new Array<number>(c.batchSize * c.inHeight * c.inWidth * ch).fill(0);
  const dw = new Array<number>(c.filterHeight * c.filterWidth * ch * m).fill(0);
  for (let b = 0; b < c.batchSize; b++)
    for (let oh = 0; oh < c.outHeight; oh++)
      for (let ow = 0; ow < c.outWidth; ow++)
        for (let kh = 0; kh < c.filterHeight; kh++)
          for (let kw = 0; kw < c.filterWidth; kw++) {
            const ih = oh * c.strideHeight + kh * c.dilationHeight - c.padInfo.top;
            const iw = ow * c.strideWidth + kw * c.dilationWidth - c.padInfo.left;
            if (ih < 0 || ih >= c.inHeight || iw < 0 || iw >= c.inWidth) continue;
            for (let k = 0; k < ch; k++)
              for (let j = 0; j < m; j++) {
                const xi = ((b * c.inHeight + ih) * c.inWidth + iw) * ch + k;
                const yi = ((b * c.outHeight + oh) * c.outWidth + ow) * ch * m + k * m + j;
                const wi = ((kh * c.filterWidth + kw) * ch + k) * m + j;
                dw[wi]! += x[xi]! * dy[yi]!;
                dx[xi]! += w[wi]! * dy[yi]!;
              }
          }
  return { dx, dw };
}

/** Padding as tfjs takes it: 'same', 'valid', a number, or explicit [[0,0],[t,b],[l,r],[0,0]]. */
const pad2d = fc.oneof(
  fc.constantFrom('same' as const, 'valid' as const),
  fc.integer({ min: 0, max: 2 }),
  fc.tuple(...Array.from({ length: 4 }, () => fc.integer({ min: 0, max: 2 }))).map(
    ([t, b, l, r]) =>
      [
        [0, 0],
        [t, b],
        [l, r],
        [0, 0],
      ] as tf.backend_util.ExplicitPadding,
  ),
);

/** Three integers in [min, max], one per spatial axis of a 3D convolution. */
const triple = (min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }), fc.integer({ min, max }));

/** A 2D geometry: batch, input size, filter size, strides, dilations, channels. */
const conv2dCase = (opts: { dilations: boolean }) =>
  fc
    .record({
      batch: fc.integer({ min: 1, max: 3 }),
      kh: fc.integer({ min: 1, max: 4 }),
      kw: fc.integer({ min: 1, max: 4 }),
      sh: fc.integer({ min: 1, max: 3 }),
      sw: fc.integer({ min: 1, max: 3 }),
      dh: fc.integer({ min: 1, max: opts.dilations ? 3 : 1 }),
      dw: fc.integer({ min: 1, max: opts.dilations ? 3 : 1 }),
      extraH: fc.integer({ min: 0, max: 6 }),
      extraW: fc.integer({ min: 0, max: 6 }),
      inC: fc.integer({ min: 1, max: 4 }),
      outC: fc.integer({ min: 1, max: 4 }),
      pad: pad2d,
      seed: fc.nat(),
    })
    // tfjs takes dilations > 1 only with stride 1, and a numeric pad only for square geometry
    // (its output-size formula uses the filter height and row stride for both axes).
    .map((c) => (c.dh > 1 || c.dw > 1 ? { ...c, sh: 1, sw: 1 } : c))
    .map((c) => (typeof c.pad === 'number' ? { ...c, kw: c.kh, sw: c.sh, dw: c.dh } : c))
    .map((c) => ({
      ...c,
      h: (c.kh - 1) * c.dh + 1 + c.extraH,
      w: (c.kw - 1) * c.dw + 1 + c.extraW,
    }));

/** The output size of a 2D geometry, as tfjs computes it. */
function outShape(
  c: ReturnType<typeof conv2dCase> extends fc.Arbitrary<infer T> ? T : never,
  depthwise: boolean,
) {
  return tf.backend_util.computeConv2DInfo(
    [c.batch, c.h, c.w, c.inC],
    [c.kh, c.kw, c.inC, c.outC],
    [c.sh, c.sw],
    [c.dh, c.dw],
    c.pad,
    'floor',
    depthwise,
  );
}

describe('WASM training kernels match the CPU backend', () => {
  it('Conv2DBackpropFilter: NHWC and NCHW, strides, every padding form', async () => {
    await fc.assert(
      fc.asyncProperty(conv2dCase({ dilations: false }), fc.boolean(), async (c, nchw) => {
        const info = outShape(c, false);
        const dyShape = [c.batch, info.outHeight, info.outWidth, c.outC];
        const xShape = [c.batch, c.h, c.w, c.inC];
        // NCHW takes no explicit padding in tfjs.
        const format = nchw && !Array.isArray(c.pad) ? 'NCHW' : 'NHWC';
        const toFormat = (s: number[]) => (format === 'NCHW' ? [s[0]!, s[3]!, s[1]!, s[2]!] : s);
        await expectSame(
          'Conv2DBackpropFilter',
          { x: { shape: toFormat(xShape) }, dy: { shape: toFormat(dyShape) } },
          {
            strides: [c.sh, c.sw],
            pad: c.pad,
            dataFormat: format,
            dimRoundingMode: 'floor',
            filterShape: [c.kh, c.kw, c.inC, c.outC],
          },
          c.seed,
        );
      }),
      { numRuns: 40 },
    );
  });

  it('DepthwiseConv2dNativeBackpropFilter and -Input: strides, dilations, multipliers, padding', async () => {
    await fc.assert(
      fc.asyncProperty(conv2dCase({ dilations: true }), async (c) => {
        const info = outShape(c, true);
        const geometry = {
          strides: [c.sh, c.sw],
          dilations: [c.dh, c.dw],
          pad: c.pad,
          dimRoundingMode: 'floor',
        };
        const { x, dy, filter } = makeInputs(
          {
            x: { shape: [c.batch, c.h, c.w, c.inC] },
            dy: { shape: [c.batch, info.outHeight, info.outWidth, c.inC * c.outC] },
            filter: { shape: [c.kh, c.kw, c.inC, c.outC] },
          },
          c.seed,
        );
        const filterGrad = { ...geometry, filterShape: filter!.shape };
        const inputGrad = { ...geometry, inputShape: x!.shape };
        const ref = depthwiseReference(x!.values, dy!.values, filter!.values, info);
        const dw = await run(
          'wasm',
          'DepthwiseConv2dNativeBackpropFilter',
          { x: x!, dy: dy! },
          filterGrad,
        );
        const dx = await run(
          'wasm',
          'DepthwiseConv2dNativeBackpropInput',
          { dy: dy!, filter: filter! },
          inputGrad,
        );
        expectClose(dw.values, ref.dw, `filter gradient ${JSON.stringify(c)}`);
        expectClose(dx.values, ref.dx, `input gradient ${JSON.stringify(c)}`);
        if (c.dh === 1 && c.dw === 1) {
          await expectSame(
            'DepthwiseConv2dNativeBackpropFilter',
            { x: x!, dy: dy! },
            filterGrad,
            c.seed,
          );
          await expectSame(
            'DepthwiseConv2dNativeBackpropInput',
            { dy: dy!, filter: filter! },
            inputGrad,
            c.seed,
          );
        }
      }),
      { numRuns: 60 },
    );
  });

  it('Conv2DBackpropInput (shipped by wasm) agrees too', async () => {
    await fc.assert(
      fc.asyncProperty(conv2dCase({ dilations: false }), async (c) => {
        const info = outShape(c, false);
        await expectSame(
          'Conv2DBackpropInput',
          {
            dy: { shape: [c.batch, info.outHeight, info.outWidth, c.outC] },
            filter: { shape: [c.kh, c.kw, c.inC, c.outC] },
          },
          {
            strides: [c.sh, c.sw],
            pad: c.pad,
            dataFormat: 'NHWC',
            dimRoundingMode: 'floor',
            inputShape: [c.batch, c.h, c.w, c.inC],
          },
          c.seed,
        );
      }),
      { numRuns: 30 },
    );
  });

  it('UnsortedSegmentSum: float and int inputs, ids out of range dropped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        fc.nat(),
        async (n, rest, numSegments, ints, seed) => {
          const r = rng(seed, 'segment-ids');
          const ids = Array.from({ length: n }, () => r.int(numSegments + 2) - 1); // -1..S out of range too
          const size = n * rest.reduce((a, b) => a * b, 1);
          const xInt = Array.from({ length: size }, () => r.int(200) - 100);
          await expectSame(
            'UnsortedSegmentSum',
            {
              x: ints
                ? { shape: [n, ...rest], dtype: 'int32', values: xInt }
                : { shape: [n, ...rest] },
              segmentIds: { shape: [n], dtype: 'int32', values: ids },
            },
            { numSegments },
            seed,
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('Conv3DBackpropFilterV2 and Conv3DBackpropInputV2 (wasm ships both wrong): strides, padding', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.integer({ min: 1, max: 2 }),
          k: triple(1, 3),
          s: triple(1, 2),
          extra: triple(0, 3),
          inC: fc.integer({ min: 1, max: 3 }),
          outC: fc.integer({ min: 1, max: 3 }),
          pad: fc.constantFrom('same' as const, 'valid' as const),
          seed: fc.nat(),
        }),
        async (c) => {
          const xShape = [c.batch, ...c.k.map((k, i) => k + c.extra[i]!), c.inC];
          const filterShape = [...c.k, c.inC, c.outC];
          const info = tf.backend_util.computeConv3DInfo(
            xShape as [number, number, number, number, number],
            filterShape as [number, number, number, number, number],
            c.s,
            1,
            c.pad,
          );
          const dyShape = [c.batch, info.outDepth, info.outHeight, info.outWidth, c.outC];
          await expectSame(
            'Conv3DBackpropFilterV2',
            { x: { shape: xShape }, dy: { shape: dyShape } },
            { strides: c.s, pad: c.pad, filterShape },
            c.seed,
          );
          await expectSame(
            'Conv3DBackpropInputV2',
            { dy: { shape: dyShape }, filter: { shape: filterShape } },
            { strides: c.s, pad: c.pad, inputShape: xShape },
            c.seed,
          );
        },
      ),
      { numRuns: 25 },
    );
    console.log(
      `[streams/cl] WASM kernels vs CPU: worst max abs error / max |value| = ${worst.toExponential(2)}`,
    );
  });
});
