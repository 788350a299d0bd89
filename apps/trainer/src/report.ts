// report.html: one self-contained page (inline SVG charts, no script, no network) and the same
// charts as PNG files, rebuilt at any time from a run's metrics log (`streams report <run-dir>`).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderChart } from '@streams/multistream';
import { stringify as toYaml } from 'yaml';
import { reportCharts } from './reportCharts.js';
import { type RunResults, readRun } from './runResults.js';
import { describeBackend, formatResult, metricLabel } from './runSummary.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (x: number | null | undefined) =>
  x === null || x === undefined || Number.isNaN(x) ? '-' : (100 * x).toFixed(1);
const bytes = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** Writes `<dir>/report/report.html` (and `<chart>.png` files); returns the HTML path. */
export async function writeReport(
  dir: string,
  options: { html?: boolean; png?: boolean } = {},
): Promise<string> {
  const r = await readRun(dir);
  const out = join(dir, 'report');
  await mkdir(out, { recursive: true });
  const charts = reportCharts(r);
  const rendered: Array<{ id: string; title: string; svg: string }> = [];
  for (const c of charts) {
    const { svg, png } = await renderChart(c.spec, { png: options.png !== false });
    if (png) await writeFile(join(out, `${c.id}.png`), png);
    rendered.push({ id: c.id, title: c.title, svg });
  }
  const path = join(out, 'report.html');
  if (options.html !== false) await writeFile(path, page(r, rendered));
  return path;
}

function page(r: RunResults, charts: Array<{ id: string; title: string; svg: string }>): string {
  const f = (x: number | null | undefined) => formatResult(x, r.metric);
  const label = metricLabel(r.metric);
  const summaryRows = r.learners
    .map((l) => {
      const s = l.summary;
      const memory = (l.memory ?? [])
        .map((m) => `${esc(m.policy)} ${m.size}/${m.capacity} samples, ${bytes(m.bytes)}`)
        .join('; ');
      return `<tr><th>${esc(l.name)}</th><td>${f(s.average)}</td><td>${f(s.bwt)}</td><td>${f(s.fwt)}</td><td>${f(s.forgetting)}</td><td>${f(s.forgettingInitial)}</td><td>${esc(l.description ?? '')}</td><td>${memory || '-'}</td><td><code>${esc(l.weightsHash?.slice(0, 16) ?? '')}</code></td></tr>`;
    })
    .join('\n');
  const matrices = r.learners
    .map((l) => {
      const head = r.run.evals.map((e, j) => `<th title="${esc(e)}">set ${j + 1}</th>`).join('');
      const initial = l.matrix.initial
        ? `<tr><th>untrained</th>${l.matrix.initial.map((a) => `<td>${f(a)}</td>`).join('')}</tr>`
        : '';
      const rows = l.matrix.rows
        .map(
          (row, i) =>
            `<tr><th>after ${i + 1}. ${esc(r.run.experiences[i] ?? '')}</th>${row.map((a) => `<td>${f(a)}</td>`).join('')}</tr>`,
        )
        .join('\n');
      return `<h3>${esc(l.name)}</h3><table class="num"><tr><th>${label}</th>${head}</tr>${initial}${rows}</table>`;
    })
    .join('\n');
  const data = r.learners
    .map((l) => {
      const last = l.steps[l.steps.length - 1];
      const rates = l.steps.map((s) => s.samplesPerSecond).sort((a, b) => a - b);
      const median = rates.length > 0 ? rates[Math.floor(rates.length / 2)]! : 0;
      return `<tr><th>${esc(l.name)}</th><td>${(l.samples ?? 0).toLocaleString('en-US')}</td><td>${(l.trainSeconds ?? 0).toFixed(1)}</td><td>${(l.checkpointSeconds ?? 0).toFixed(1)}</td><td>${Math.round(median).toLocaleString('en-US')}</td><td>${last?.cacheHits ?? 0}</td><td>${last?.cacheMisses ?? 0}</td><td>${pct(last?.cacheHitRate)}</td><td>${Math.round(last?.waitMs ?? 0)}</td></tr>`;
    })
    .join('\n');
  const figures = charts
    .map(
      (c) =>
        `<figure class="chart" id="${c.id}" data-chart="${c.id}"><figcaption>${esc(c.title)}</figcaption>${c.svg}</figure>`,
    )
    .join('\n');
  const world = r.run.world as { rank?: number; worldSize?: number; launcher?: string } | undefined;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>streams train: ${esc(r.run.name)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1280px;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
table.num td{text-align:right;font-variant-numeric:tabular-nums}figure.chart{margin:1.5rem 0}figcaption{font-weight:600;margin-bottom:.5rem}
pre{background:#f6f6f6;padding:1rem;overflow:auto}code{font-size:90%}
</style></head><body>
<h1>streams train: ${esc(r.run.name)}</h1>
<p>Started ${esc(r.run.time)}${r.finished ? '' : ' <strong>(not finished: the log ends before the run did)</strong>'}. Streams: ${r.run.streams.map(esc).join(', ')}.
Rank ${world?.rank ?? 0} of ${world?.worldSize ?? 1} (${esc(world?.launcher ?? 'single')}).
Backend: ${esc(describeBackend(r.run.backend))}.</p>
<h2>Summary</h2>
<table class="num"><tr><th>learner</th><th>average ${label}</th><th>BWT</th><th>FWT</th><th>forgetting (max)</th><th>forgetting (initial)</th><th>model, optimizer, strategies</th><th>memory</th><th>weights sha256</th></tr>
${summaryRows}</table>
${r.metric === 'loss' ? '<p>The learners reconstruct their input: each matrix holds the loss (mean squared error, lower is better); BWT is the change of loss on earlier experiences (positive: forgotten) and forgetting the loss increase.</p>\n' : ''}${figures}
<h2>${r.metric === 'accuracy' ? 'Accuracy' : 'Loss'} matrices</h2>
<p>Evaluation sets: ${r.run.evals.map((e, j) => `${j + 1}. ${esc(e)}`).join('; ')}.</p>
${matrices}
<h2>Data path: throughput and cache</h2>
<table class="num"><tr><th>learner</th><th>samples trained</th><th>train seconds</th><th>checkpoint seconds</th><th>median samples/s</th><th>cache hits</th><th>cache misses</th><th>hit rate %</th><th>wait for data (ms, last experience)</th></tr>
${data}</table>
<h2>Config</h2>
<pre>${esc(toYaml(r.run.config))}</pre>
</body></html>
`;
}
