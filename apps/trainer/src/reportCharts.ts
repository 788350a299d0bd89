// The report's charts as Vega-Lite specs, built from a run's metrics log.
import type { VegaLiteSpec } from '@streams/multistream';
import type { RunResults } from './runResults.js';

/** One chart of the report. */
export interface ChartSpec {
  id: string;
  title: string;
  spec: VegaLiteSpec;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Every chart the run's log supports (signals only when a STREAMS schedule drove the mix). */
export function reportCharts(r: RunResults): ChartSpec[] {
  const charts: ChartSpec[] = [];
  const m = r.metric; // accuracy, or loss (autoencoders)
  const cells = r.learners.flatMap((l) =>
    l.matrix.rows.flatMap((row, i) =>
      row.map((value, j) => ({
        learner: l.name,
        after: `${i + 1}. ${r.run.experiences[i] ?? ''}`,
        set: `${j + 1}. ${r.run.evals[j] ?? ''}`,
        [m]: value,
      })),
    ),
  );
  const maxLoss = Math.max(0, ...cells.map((c) => (m === 'loss' ? (c.loss as number) : 0)));
  charts.push({
    id: `${m}-matrix`,
    title:
      m === 'accuracy'
        ? 'Accuracy matrix: accuracy on each evaluation set after each experience'
        : 'Loss matrix: reconstruction loss on each evaluation set after each experience (lower is better)',
    spec: {
      $schema: SCHEMA,
      data: { values: cells },
      facet: { column: { field: 'learner', type: 'nominal', title: null } },
      spec: {
        width: 220,
        height: 180,
        encoding: {
          x: { field: 'set', type: 'ordinal', title: 'evaluation set' },
          y: { field: 'after', type: 'ordinal', title: 'after experience' },
        },
        layer: [
          {
            mark: 'rect',
            encoding: {
              color: {
                field: m,
                type: 'quantitative',
                // Good is bright in both: high accuracy, low loss.
                scale:
                  m === 'accuracy'
                    ? { domain: [0, 1], scheme: 'viridis' }
                    : { domain: [0, maxLoss || 1], scheme: 'viridis', reverse: true },
                title: m,
              },
            },
          },
          {
            mark: { type: 'text', fontSize: 10 },
            encoding: {
              text: { field: m, type: 'quantitative', format: m === 'accuracy' ? '.2f' : '.3g' },
              color: {
                condition: {
                  test:
                    m === 'accuracy'
                      ? 'datum.accuracy > 0.6'
                      : `datum.loss < ${0.4 * (maxLoss || 1)}`,
                  value: 'black',
                },
                value: 'white',
              },
            },
          },
        ],
      },
    },
  });
  charts.push({
    id: `${m}-over-experiences`,
    title:
      m === 'accuracy'
        ? 'Accuracy of each evaluation set as experiences go by (forgetting shows as a fall)'
        : 'Loss of each evaluation set as experiences go by (forgetting shows as a rise)',
    spec: {
      $schema: SCHEMA,
      data: { values: cells.map((c) => ({ ...c, experience: Number(c.after.split('.')[0]) })) },
      facet: { column: { field: 'learner', type: 'nominal', title: null } },
      spec: {
        width: 260,
        height: 180,
        mark: { type: 'line', point: true },
        encoding: {
          x: {
            field: 'experience',
            type: 'quantitative',
            title: 'after experience',
            axis: { tickMinStep: 1 },
          },
          y:
            m === 'accuracy'
              ? { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] } }
              : { field: 'loss', type: 'quantitative' },
          color: { field: 'set', type: 'nominal', title: 'evaluation set' },
        },
      },
    },
  });
  const average = `average ${m}`;
  const metrics = r.learners.flatMap((l) =>
    (
      [
        [average, l.summary.average],
        ['BWT', l.summary.bwt],
        ['FWT', l.summary.fwt],
        ['forgetting', l.summary.forgetting],
      ] as const
    ).flatMap(([metric, value]) => (value === null ? [] : [{ learner: l.name, metric, value }])),
  );
  charts.push({
    id: 'cl-metrics',
    title: `Average ${m}, backward and forward transfer, forgetting${m === 'loss' ? ' (of the loss: positive BWT and forgetting mean forgotten)' : ''}`,
    spec: {
      $schema: SCHEMA,
      data: { values: metrics },
      width: 360,
      height: 200,
      mark: 'bar',
      encoding: {
        x: {
          field: 'metric',
          type: 'nominal',
          title: null,
          sort: [average, 'BWT', 'FWT', 'forgetting'],
        },
        xOffset: { field: 'learner', type: 'nominal' },
        y: { field: 'value', type: 'quantitative' },
        color: { field: 'learner', type: 'nominal' },
      },
    },
  });
  const steps = r.learners.flatMap((l) =>
    l.steps.map((s) => ({
      ...s,
      experienceName: `${s.experience + 1}. ${r.run.experiences[s.experience] ?? ''}`,
    })),
  );
  charts.push({
    id: 'learning-curves',
    title: 'Training loss per experience (mean over each logged step window)',
    spec: {
      $schema: SCHEMA,
      data: {
        values: steps.flatMap((s) =>
          s.loss === null
            ? [] // GDumb and joint train at the experience end only
            : [{ learner: s.learner, step: s.step, loss: s.loss, experience: s.experienceName }],
        ),
      },
      facet: { column: { field: 'learner', type: 'nominal', title: null } },
      spec: {
        width: 300,
        height: 180,
        mark: 'line',
        encoding: {
          x: { field: 'step', type: 'quantitative' },
          y: { field: 'loss', type: 'quantitative', title: 'training loss' },
          color: { field: 'experience', type: 'nominal' },
        },
      },
    },
  });
  const first = r.learners[0];
  const shares = (first?.steps ?? []).flatMap((s) =>
    s.shares.flatMap((sh) => [
      { step: s.step, stream: sh.stream, kind: 'target', share: sh.target },
      { step: s.step, stream: sh.stream, kind: 'actual', share: sh.actual },
    ]),
  );
  charts.push({
    id: 'stream-shares',
    title: `Target vs actual share of each stream over time (${first?.name ?? ''}; every learner reads the same order)`,
    spec: {
      $schema: SCHEMA,
      data: { values: shares },
      width: 560,
      height: 200,
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'step', type: 'quantitative' },
        y: { field: 'share', type: 'quantitative', scale: { domain: [0, 1] } },
        color: { field: 'stream', type: 'nominal' },
        strokeDash: { field: 'kind', type: 'nominal', title: null },
      },
    },
  });
  const signals = (first?.steps ?? []).flatMap((s) =>
    (s.signals ?? []).map((value, k) => ({
      step: s.step,
      stream: (r.run.signals ?? r.run.streams)[k] ?? `${k}`,
      signal: value,
    })),
  );
  if (signals.length > 0) {
    charts.push({
      id: 'streams-signals',
      title: r.run.signals
        ? 'STREAMS signals of each domain value over the experiences (their softmax sets the sampling weights)'
        : 'STREAMS signals of each stream (their softmax sets the weights)',
      spec: {
        $schema: SCHEMA,
        data: { values: signals },
        width: 560,
        height: 200,
        mark: 'line',
        encoding: {
          x: { field: 'step', type: 'quantitative' },
          y: { field: 'signal', type: 'quantitative', scale: { domain: [0, 10] } },
          color: { field: 'stream', type: 'nominal' },
        },
      },
    });
  }
  charts.push({
    id: 'throughput',
    title: 'Training throughput (samples/s per step window) and cache hit rate',
    spec: {
      $schema: SCHEMA,
      data: {
        values: steps.map((s) => ({
          learner: s.learner,
          step: s.step,
          samplesPerSecond: s.samplesPerSecond,
          cacheHitRate: s.cacheHitRate,
        })),
      },
      hconcat: [
        {
          width: 280,
          height: 180,
          mark: 'line',
          encoding: {
            x: { field: 'step', type: 'quantitative' },
            y: { field: 'samplesPerSecond', type: 'quantitative', title: 'samples/s' },
            color: { field: 'learner', type: 'nominal' },
          },
        },
        {
          width: 280,
          height: 180,
          mark: 'line',
          encoding: {
            x: { field: 'step', type: 'quantitative' },
            y: {
              field: 'cacheHitRate',
              type: 'quantitative',
              title: 'cache hit rate',
              scale: { domain: [0, 1] },
            },
            color: { field: 'learner', type: 'nominal' },
          },
        },
      ],
    },
  });
  return charts;
}
