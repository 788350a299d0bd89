// Worker-thread entry of TransformPool: imports task modules on demand and runs their exports.
import { parentPort } from 'node:worker_threads';
import { isStreamsError } from '@streams/core';
import { collectTransferables } from './transferables.js';

interface TaskMessage {
  id: number;
  module: string;
  name: string;
  args: unknown[];
}

const modules = new Map<string, Promise<Record<string, unknown>>>();

async function runTask(msg: TaskMessage): Promise<unknown> {
  let mod = modules.get(msg.module);
  if (!mod) {
    mod = import(msg.module) as Promise<Record<string, unknown>>;
    modules.set(msg.module, mod);
  }
  const fn = (await mod)[msg.name];
  if (typeof fn !== 'function') {
    throw new TypeError(`[streams/transforms] ${msg.module} has no exported function ${msg.name}`);
  }
  return (fn as (...a: unknown[]) => unknown)(...msg.args);
}

/** Errors cross the thread boundary as plain objects; StreamsError fields are kept. */
function serializeError(err: unknown): Record<string, unknown> {
  if (isStreamsError(err)) {
    return {
      name: err.name,
      message: err.message,
      stack: err.stack,
      code: err.code,
      stream: err.stream,
      shard: err.shard,
      sample: err.sample,
      url: err.url,
      fix: err.fix,
    };
  }
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

parentPort!.on('message', (msg: TaskMessage) => {
  runTask(msg).then(
    (value) => {
      parentPort!.postMessage({ id: msg.id, ok: true, value }, collectTransferables(value));
    },
    (err: unknown) => {
      parentPort!.postMessage({ id: msg.id, ok: false, error: serializeError(err) });
    },
  );
});
