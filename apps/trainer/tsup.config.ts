import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { packageBuild } from '../../tsup.shared.js';

export default packageBuild({
  // The data worker is started by file name (workerExperiences.ts), so it is an entry of its own.
  entry: ['src/index.ts', 'src/cli.ts', 'src/experienceWorker.ts'],
  // `pnpm streams` runs this build only while it matches the sources (scripts/streams.mjs).
  onSuccess: async () => {
    const stamp = join(process.cwd(), '../../scripts/sourcesHash.mjs');
    execFileSync(process.execPath, [stamp, '--write', 'dist/sources-hash']);
  },
});
