// Child process for kill.test.ts: downloads argv[2] to argv[3] and waits to be killed.
import { createFetchEngine } from '../src/fetchEngine.js';

const [url, dest] = process.argv.slice(2);
await createFetchEngine({ stallTimeoutMs: 60_000 }).download(url!, dest!);
process.stdout.write('finished\n');
