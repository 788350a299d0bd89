import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { packageBuild } from '../../tsup.shared.js';

export default packageBuild({
  entry: ['src/index.ts', 'src/cli.ts'],
  // `pnpm streams` runs this build only while it matches the sources (scripts/streams.mjs).
  onSuccess: async () => {
    const stamp = join(process.cwd(), '../../scripts/sourcesHash.mjs');
    execFileSync(process.execPath, [stamp, '--write', 'dist/sources-hash']);
  },
});
