import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStreamsError } from '@streams/core';
import { describe, expect, it } from 'vitest';
import { sink } from '../test/helpers.js';
import { runDatasets } from './datasetsCommand.js';
import { runSignals } from './signalsCommand.js';

describe('streams datasets', () => {
  it('lists the registry with samples, classes, shape, download size and whether local', async () => {
    const out = sink();
    const dataDir = await mkdtemp(join(tmpdir(), 'streams-ds-cli-'));
    try {
      expect(await runDatasets({ 'data-dir': dataDir }, { out: out.stream, err: out.stream })).toBe(
        0,
      );
      const lines = out.text().split('\n');
      expect(lines[0]).toMatch(
        /^name\s+samples\s+classes\s+shape\s+download\s+local\s+description$/,
      );
      expect(lines.find((l) => l.startsWith('fashion-mnist '))).toMatch(
        /60,000\s+10\s+\[28, 28\]\s+25\.2 MiB\s+yes\s+/,
      );
      expect(lines.find((l) => l.startsWith('cifar-100 '))).toMatch(
        /no \(downloads on first use\)/,
      );
      const json = sink();
      await runDatasets(
        { json: true, 'data-dir': dataDir },
        { out: json.stream, err: json.stream },
      );
      const listing = JSON.parse(json.text()) as Array<{ name: string; local: boolean }>;
      expect(listing.find((d) => d.name === 'svhn')?.local).toBe(false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('streams signals', () => {
  it('draws a schedule without training, as PNG or SVG, for chosen values', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'streams-signals-'));
    try {
      const out = sink();
      const png = join(dir, 'signals.png');
      await runSignals(
        { dataset: 'toy8', steps: 300, out: png },
        { out: out.stream, err: out.stream },
      );
      expect((await readFile(png)).subarray(1, 4).toString()).toBe('PNG');
      expect(out.text()).toContain('signals of label over 300 steps of toy8');
      const svg = join(dir, 'signals.svg');
      await runSignals(
        { dataset: 'toy8', steps: 50, out: svg, values: '2,5' },
        { out: out.stream, err: out.stream },
      );
      const text = await readFile(svg, 'utf8');
      const legend = [...text.matchAll(/role-legend-label[^>]*>[\s\S]*?<text[^>]*>([^<]*)</g)].map(
        (m) => m[1],
      );
      expect(legend).toEqual(['2', '5']);
      const bad = await runSignals(
        { dataset: 'toy8', out: join(dir, 'x.jpg') },
        { out: out.stream, err: out.stream },
      ).catch((e: unknown) => e);
      expect(isStreamsError(bad, 'STREAMS_INVALID_CONFIG')).toBe(true);
      await expect(runSignals({}, { out: out.stream, err: out.stream })).rejects.toThrow(
        /needs --dataset/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
