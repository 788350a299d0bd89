import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderChart } from './charts.js';

const spec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  width: 200,
  height: 100,
  data: {
    values: [
      { step: 0, value: 1, domain: 'a' },
      { step: 1, value: 3, domain: 'a' },
      { step: 0, value: 2, domain: 'b' },
      { step: 1, value: 0, domain: 'b' },
    ],
  },
  mark: 'line',
  encoding: {
    x: { field: 'step', type: 'quantitative', title: 'step' },
    y: { field: 'value', type: 'quantitative' },
    color: { field: 'domain', type: 'nominal' },
  },
};

describe('renderChart', () => {
  it('renders a Vega-Lite spec to SVG with its axis title and legend entries', async () => {
    const { svg, png } = await renderChart(spec);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('>step<');
    expect(svg).toContain('>a<');
    expect(svg).toContain('>b<');
    expect(svg.match(/<path[^>]*aria-roledescription="line mark"/g)?.length).toBe(2);
    expect(png).toBeUndefined();
  });

  it('rasterises to a PNG that is not blank', async () => {
    const { png } = await renderChart(spec, { png: true, scale: 1 });
    expect(png).toBeDefined();
    const { data, info } = await sharp(png!).raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBeGreaterThan(200);
    let dark = 0;
    let opaque = 0;
    for (let i = 0; i < data.length; i += info.channels) {
      if (info.channels === 4 && data[i + 3]! < 255) continue;
      opaque++;
      if (data[i]! < 128) dark++;
    }
    expect(opaque).toBe(info.width * info.height); // white background, not transparent
    expect(dark).toBeGreaterThan(100); // lines, axes and text drawn on it
    expect(dark).toBeLessThan(opaque / 2);
  });

  it('fails with STREAMS_INVALID_ARGUMENT on a spec vega-lite rejects', async () => {
    await expect(renderChart({ mark: 'nonsense-mark' })).rejects.toMatchObject({
      code: 'STREAMS_INVALID_ARGUMENT',
    });
  });
});
