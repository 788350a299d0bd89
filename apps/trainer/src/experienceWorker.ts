// The worker thread of the trainer's data path (see workerExperiences.ts): it opens the
// experiences' StreamingDatasets and turns samples into typed-array batches, a few batches ahead
// of the training loop, so decoding, batching and their garbage stay off the thread that trains.
import { parentPort } from 'node:worker_threads';
import type { Batch } from '@streams/cl';
import { type DataPlan, type ExperienceData, planData } from './experiences.js';
import { configureRemote } from './remoteFlags.js';
import type { RunConfig } from './runConfig.js';
import type { StreamSource } from './sources.js';
import { registerTrainerDatasets } from './trainerDatasets.js';
import type { ToWorker } from './workerExperiences.js';

const port = parentPort!;
let plan: DataPlan | undefined;
/** Settles when `init` is done: later messages wait for it, in the order they came. */
let ready: Promise<void> = Promise.resolve();

interface Open {
  data: ExperienceData;
  it?: AsyncIterator<Batch>;
  /** Batches the main thread will take: the prefetch window. */
  credits: number;
  pumping: boolean;
}
const opened = new Map<number, Open>();

const snapshot = (d: ExperienceData) => ({
  passes: d.passes,
  stepsPerPass: d.stepsPerPass,
  position: d.position(),
  figures: d.figures(),
  targets: d.targets(),
  signals: d.signals(),
});

function fail(id: number, e: unknown): void {
  const err = (e instanceof Error ? e : new Error(String(e))) as Error & Record<string, unknown>;
  // The fields a StreamsError carries (a cause may not survive the structured clone: left out).
  const { code, stream, shard, sample, url, fix } = err;
  port.postMessage({
    type: 'error',
    id,
    error: { name: err.name, message: err.message, code, stream, shard, sample, url, fix },
  });
}

/** Reads ahead while the main thread has credits left; every batch carries the state after it. */
async function pump(id: number, o: Open): Promise<void> {
  if (o.pumping) return;
  o.pumping = true;
  try {
    while (o.credits > 0 && o.it) {
      const r = await o.it.next();
      if (r.done) {
        o.it = undefined;
        port.postMessage({ type: 'end', id, state: snapshot(o.data) });
        break;
      }
      o.credits -= 1;
      const b = r.value;
      const buffers = [b.x, b.y, b.weight, b.task].flatMap((a) => (a ? [a.buffer] : []));
      port.postMessage({ type: 'batch', id, batch: b, state: snapshot(o.data) }, [
        ...new Set(buffers),
      ] as ArrayBuffer[]);
    }
  } catch (e) {
    o.it = undefined;
    fail(id, e);
  } finally {
    o.pumping = false;
  }
}

async function handle(m: ToWorker): Promise<void> {
  if (m.type === 'init') {
    ready = (async () => {
      registerTrainerDatasets();
      const config = m.config as RunConfig;
      // Drivers are registered per thread: the endpoint of s3:// streams too.
      if (config.data.endpoint) await configureRemote({ endpoint: config.data.endpoint });
      plan = planData(config, m.sources as StreamSource[]);
    })();
    return ready;
  }
  await ready;
  if (m.type === 'open') {
    const data = await plan!.experiences[m.experience]!.open();
    opened.set(m.id, { data, credits: 0, pumping: false });
    port.postMessage({ type: 'state', id: m.id, state: snapshot(data) });
    return;
  }
  const o = opened.get(m.id);
  if (!o) return;
  if (m.type === 'rewind') {
    await o.data.rewind(m.saved);
    port.postMessage({ type: 'state', id: m.id, state: snapshot(o.data) });
  } else if (m.type === 'pass') {
    o.it = o.data.pass()[Symbol.asyncIterator]();
    o.credits = m.ahead;
    await pump(m.id, o);
  } else if (m.type === 'more') {
    o.credits += 1;
    await pump(m.id, o);
  } else if (m.type === 'close') {
    opened.delete(m.id);
    await o.it?.return?.(undefined);
    await o.data[Symbol.asyncDispose]();
    port.postMessage({ type: 'closed', id: m.id });
  }
}

port.on('message', (m: ToWorker) => {
  handle(m).catch((e) => fail('id' in m ? m.id : -1, e));
});
