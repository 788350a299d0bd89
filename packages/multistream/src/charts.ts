// Charts are Vega-Lite specs rendered offline: vega-lite compiles the spec, vega renders it to SVG
// with no DOM, and sharp rasterises the SVG when a PNG is asked for. All three are optional peers,
// loaded on the first chart, so users who never draw a chart never install them.
import { StreamsError } from '@streams/core';

/** A Vega-Lite specification (https://vega.github.io/vega-lite/docs/spec.html). */
export type VegaLiteSpec = Record<string, unknown>;

/** Options of {@link renderChart}. */
export interface RenderChartOptions {
  /** Also rasterise to PNG (needs `sharp`). Default false. */
  png?: boolean;
  /** Pixel density multiplier of the PNG. Default 2. */
  scale?: number;
}

/** A rendered chart: the SVG text, and the PNG bytes when asked for. */
export interface RenderedChart {
  svg: string;
  png?: Buffer;
}

/** Renders a Vega-Lite spec to SVG (and PNG), with no browser and no network. */
export async function renderChart(
  spec: VegaLiteSpec,
  options: RenderChartOptions = {},
): Promise<RenderedChart> {
  const [vl, vega] = await Promise.all([
    load('vega-lite', () => import('vega-lite')),
    load('vega', () => import('vega')),
  ]);
  let compiled: ReturnType<typeof vl.compile>;
  try {
    // A white background unless the spec sets one: a transparent PNG reads badly in most viewers.
    const withBackground = { background: 'white', ...spec };
    compiled = vl.compile(withBackground as unknown as Parameters<typeof vl.compile>[0]);
  } catch (cause) {
    throw new StreamsError('STREAMS_INVALID_ARGUMENT', '[streams/multistream] invalid chart spec', {
      cause,
      fix: 'check the Vega-Lite spec against https://vega.github.io/vega-lite/docs/',
    });
  }
  const view = new vega.View(vega.parse(compiled.spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    if (!options.png) return { svg };
    const sharp = await load('sharp', () => import('sharp'));
    const density = 72 * (options.scale ?? 2);
    const png = await sharp.default(Buffer.from(svg), { density }).png().toBuffer();
    return { svg, png };
  } finally {
    view.finalize();
  }
}

async function load<M>(name: string, importer: () => Promise<M>): Promise<M> {
  try {
    return await importer();
  } catch (cause) {
    throw new StreamsError(
      'STREAMS_DATASET_UNAVAILABLE',
      `[streams/multistream] drawing charts needs the optional package ${name}`,
      { cause, fix: `install it: npm i ${name}` },
    );
  }
}
