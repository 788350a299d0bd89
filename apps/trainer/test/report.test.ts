import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { reportCharts } from '../src/reportCharts.js';
import { readRun } from '../src/runResults.js';
import { cli, TRAIN_DATA_DIR, tempDir } from './helpers.js';

/** Mean and standard deviation of every channel of an image. */
async function pixelStats(png: Buffer) {
  const s = await sharp(png).stats();
  return {
    channels: s.channels.map((c) => ({ mean: c.mean, stdev: c.stdev, min: c.min, max: c.max })),
    isOpaque: s.isOpaque,
  };
}

describe('report.html in headless Chromium', () => {
  it(
    'renders every chart with no console error and no network, and the PNGs hold real pictures',
    { timeout: 240_000 },
    async () => {
      await using tmp = await tempDir();
      const run = join(tmp.dir, 'run');
      // Windows mode with STREAMS waveforms: every chart the report has, the signals included.
      const r = await cli([
        'train',
        '--data-dir',
        TRAIN_DATA_DIR,
        '--quiet',
        '--out',
        run,
        '--epochs',
        '1',
        '--set',
        'experiences.kind=windows',
        '--set',
        'experiences.windows=3',
        '--set',
        'experiences.stepsPerWindow=15',
        '--set',
        'train.logEvery=5',
        '--set',
        'schedule={kind: streams, duration: 10, maxDelta: 0.5}',
      ]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const charts = reportCharts(await readRun(run));
      expect(charts.map((c) => c.id)).toEqual([
        'accuracy-matrix',
        'accuracy-over-experiences',
        'cl-metrics',
        'learning-curves',
        'stream-shares',
        'streams-signals',
        'throughput',
      ]);
      // `streams report` rebuilds the same page from the metrics log.
      const again = await cli(['report', run]);
      expect(again.code).toBe(0);
      const html = join(run, 'report', 'report.html');
      expect(again.out).toBe(`report: ${html}\n`);
      const page0 = await readFile(html, 'utf8');
      expect(page0).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org|vega\.github\.io)/);

      const profile = await mkdtemp(join(tmpdir(), 'streams-chromium-'));
      // A fresh profile directory (playwright's persistent context takes it as --user-data-dir).
      const browser = await chromium.launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        viewport: { width: 1400, height: 1000 },
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        const requests: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('request', (q) => {
          if (!q.url().startsWith('file:')) requests.push(q.url());
        });
        await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
        const figures = page.locator('figure.chart');
        expect(await figures.count()).toBe(charts.length);
        expect(await page.locator('figure.chart svg').count()).toBe(charts.length);
        for (let i = 0; i < charts.length; i++) {
          const fig = figures.nth(i);
          const box = await fig.locator('svg').boundingBox();
          expect(box!.width, charts[i]!.id).toBeGreaterThan(150);
          expect(box!.height, charts[i]!.id).toBeGreaterThan(100);
          const shot = await fig.locator('svg').screenshot();
          const { channels } = await pixelStats(shot);
          // Not blank: the region varies (axes, marks, text) and is not one flat colour.
          expect(Math.max(...channels.map((c) => c.stdev)), charts[i]!.id).toBeGreaterThan(15);
          expect(Math.min(...channels.slice(0, 3).map((c) => c.min)), charts[i]!.id).toBeLessThan(
            100,
          );
        }
        expect(errors).toEqual([]);
        expect(requests).toEqual([]);
      } finally {
        await browser.close();
        await rm(profile, { recursive: true, force: true });
      }

      // One PNG looked at by its pixels: the heatmap's cells are viridis teal, green and yellow
      // (green well above red and blue) on a white page.
      const png = await readFile(join(run, 'report', 'accuracy-matrix.png'));
      const meta = await sharp(png).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBeGreaterThan(400);
      const { data, info } = await sharp(png)
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      let white = 0;
      let viridis = 0;
      for (let p = 0; p < info.width * info.height; p++) {
        const [r0, g0, b0] = [data[3 * p]!, data[3 * p + 1]!, data[3 * p + 2]!];
        if (r0 > 245 && g0 > 245 && b0 > 245) white++;
        else if (g0 > r0 + 30 && g0 > b0 + 20) viridis++;
      }
      const n = info.width * info.height;
      expect(white / n).toBeGreaterThan(0.3);
      expect(viridis / n).toBeGreaterThan(0.1);
    },
  );
});
