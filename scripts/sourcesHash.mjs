// The hash of every built workspace package's sources (src/ without tests, and package.json), which
// the trainer's build stamps into apps/trainer/dist/sources-hash and `pnpm streams` compares to
// decide whether the built CLI is current. Content, not mtimes: turbo restores an unchanged build
// from its cache without touching the files, and a checkout touches files it does not change.
// `node scripts/sourcesHash.mjs --write <file>` writes the stamp.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Files under `dir`, sorted, tests left out. */
function files(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) =>
      e.isDirectory()
        ? files(join(dir, e.name))
        : e.name.endsWith('.test.ts')
          ? []
          : [join(dir, e.name)],
    );
}

/** sha256 over the path and bytes of every source file of every package with a build script. */
export function sourcesHash(root = repo) {
  const hash = createHash('sha256');
  const dirs = [
    ...readdirSync(join(root, 'packages'))
      .sort()
      .map((n) => join(root, 'packages', n)),
    join(root, 'apps', 'trainer'),
  ];
  for (const dir of dirs) {
    const manifest = join(dir, 'package.json');
    if (!JSON.parse(readFileSync(manifest, 'utf8')).scripts?.build) continue; // e.g. the test kit
    for (const file of [manifest, ...files(join(dir, 'src'))]) {
      hash.update(`${relative(root, file)}\0`);
      hash.update(readFileSync(file));
    }
  }
  return hash.digest('hex');
}

if (process.argv[2] === '--write' && process.argv[3]) {
  writeFileSync(process.argv[3], `${sourcesHash()}\n`);
}
