// Started by abort.test.ts under --expose-gc: a combined signal with a timeout must still abort
// after full collections while it waits (AbortSignal.timeout() inside AbortSignal.any() did not).
import { combineSignals } from '../src/abort.js';

const gc = (globalThis as { gc?: () => void }).gc!;
const s = combineSignals([new AbortController().signal], 50);
for (let i = 0; i < 5; i++) {
  gc();
  await new Promise((r) => setImmediate(r));
}
await new Promise((r) => setTimeout(r, 300));
process.stdout.write(JSON.stringify({ aborted: s.aborted, reason: (s.reason as Error)?.name }));
