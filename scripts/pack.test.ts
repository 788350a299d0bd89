import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  installTarballs,
  type PackResult,
  packAll,
  publicPackages,
  removeProject,
  root,
} from './packCheck.js';

const run = promisify(execFile);
let results: PackResult[] = [];
let project = '';
const out = mkdtempSync(join(tmpdir(), 'streams-tarballs-'));

beforeAll(async () => {
  results = await packAll(out);
  project = await installTarballs(results);
}, 600_000);

afterAll(() => {
  removeProject(out);
  if (project) removeProject(project);
});

describe('packed tarballs', () => {
  it('packs every public package', () => {
    expect(results.map((r) => r.name).sort()).toEqual(
      publicPackages()
        .map((p) => p.name)
        .sort(),
    );
  });

  it('pass publint and are-the-types-wrong', () => {
    expect(Object.fromEntries(results.map((r) => [r.name, r.problems]))).toEqual(
      Object.fromEntries(results.map((r) => [r.name, []])),
    );
  });

  it('ship no workspace: ranges, tests or sources outside dist/src', async () => {
    for (const r of results) {
      const { stdout } = await run('tar', ['-tzf', r.tarball]);
      const files = stdout.trim().split('\n');
      expect(files).toContain('package/dist/index.js');
      expect(files).toContain('package/dist/index.d.ts');
      expect(files.filter((f) => /\.test\.ts$/.test(f))).toEqual([]);
      const { stdout: manifest } = await run('tar', ['-xzOf', r.tarball, 'package/package.json']);
      expect(manifest).not.toMatch(/workspace:/);
    }
  });

  it('import from a consumer project with the same exports as the sources', async () => {
    for (const r of results) {
      const script = `const m = await import(${JSON.stringify(r.name)}); console.log(JSON.stringify(Object.keys(m).sort()));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: project,
      });
      const dir = publicPackages().find((p) => p.name === r.name)!.dir;
      const source = (await import(/* @vite-ignore */ join(dir, 'src/index.ts'))) as Record<
        string,
        unknown
      >;
      expect({ [r.name]: JSON.parse(stdout) }).toEqual({ [r.name]: Object.keys(source).sort() });
    }
  });

  it('type-check a consumer against the packed declarations (NodeNext, strict)', async () => {
    const lines = results.map(
      (r, i) =>
        `import * as p${i} from ${JSON.stringify(r.name)};\nexport const k${i}: string[] = Object.keys(p${i});`,
    );
    lines.push(
      "import { StreamsError, rng } from '@streams/core';",
      "export const e: string = new StreamsError('STREAMS_INTERNAL', 'x').code;",
      'export const n: number = rng(1).int(6);',
    );
    writeFileSync(join(project, 'index.ts'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          lib: ['ES2023', 'ESNext.Disposable', 'DOM'],
        },
        files: ['index.ts'],
      }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const res = await run(process.execPath, [tsc, '-p', project], { cwd: project }).catch(
      (e: { stdout: string }) => ({ stdout: e.stdout, failed: true }),
    );
    expect(res.stdout).toBe('');
    expect(readFileSync(join(project, 'index.ts'), 'utf8')).toMatch(/@streams\/core/);
  });
});
