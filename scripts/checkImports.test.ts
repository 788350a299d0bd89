import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkImports } from './checkImports.mjs';

const here = dirname(fileURLToPath(import.meta.url));

describe('import direction check', () => {
  it('passes on this repository', () => {
    expect(checkImports(join(here, '..'))).toEqual([]);
  });

  it('rejects the deliberate bad imports of the fixture', () => {
    const violations: string[] = checkImports(join(here, 'fixtures', 'bad-imports'));
    expect(violations).toHaveLength(4);
    expect(violations.join('\n')).toMatch(
      /core\/src\/index.ts: import '@streams\/cache' goes against the dependency direction/,
    );
    expect(violations.join('\n')).toMatch(/import '@streams\/core\/src\/world' is a deep import/);
    expect(violations.join('\n')).toMatch(
      /import '..\/..\/core\/src\/prng' leaves package @streams\/cache/,
    );
    expect(violations).toContain(
      'packages/cache: import cycle src/lockSession.ts -> src/recovery.ts -> src/lockSession.ts; move what both sides need into a module of its own',
    );
  });

  it('reports the cycles of a package on the known list without failing', () => {
    const warnings: string[] = [];
    const violations: string[] = checkImports(join(here, 'fixtures', 'bad-imports'), {
      knownCycles: { cache: 'being split' },
      warnings,
    });
    expect(violations).toHaveLength(3);
    expect(warnings).toEqual([
      'packages/cache: import cycle src/lockSession.ts -> src/recovery.ts -> src/lockSession.ts (known: being split)',
    ]);
  });
});
