import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/cli.ts'],
  format: 'esm',
  target: 'node20',
  platform: 'node',
  dts: { compilerOptions: { customConditions: [] } },
  sourcemap: true,
  clean: true,
  // `pnpm streams` runs this build only while it matches the sources (scripts/streams.mjs).
  onSuccess: async () => {
    const stamp = join(process.cwd(), '../../scripts/sourcesHash.mjs');
    execFileSync(process.execPath, [stamp, '--write', 'dist/sources-hash']);
  },
});
