// Packs every public package the way `pnpm publish` would, then checks the tarballs as a user
// would meet them: publint (package.json and files), are-the-types-wrong (types resolve for
// Node16/ESM and bundlers), a real import of each tarball from a temporary project, and a strict
// `tsc` run over that project against the packed type declarations.
import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { publint } from 'publint';

const run = promisify(execFile);
export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface PackageInfo {
  name: string;
  dir: string;
  dependencies: Record<string, string>;
}

/** The workspace packages that are published (not private). */
export function publicPackages(): PackageInfo[] {
  return readdirSync(join(root, 'packages'))
    .map((n) => join(root, 'packages', n))
    .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => !pkg.private)
    .map(({ dir, pkg }) => ({ name: pkg.name, dir, dependencies: pkg.dependencies ?? {} }));
}

export interface PackResult {
  name: string;
  tarball: string;
  problems: string[];
}

/**
 * Builds every package under packages/ (turbo: a second call with unchanged sources is a cache
 * hit, so the pack and release tests share one build).
 */
export async function buildPackages(): Promise<void> {
  await run(
    'pnpm',
    ['turbo', 'run', 'build', '--filter=./packages/*', '--output-logs=errors-only'],
    {
      cwd: root,
      maxBuffer: 64 << 20,
    },
  );
}

/** Builds and packs all public packages into `out`; returns the tarballs with lint problems found. */
export async function packAll(out: string): Promise<PackResult[]> {
  await buildPackages();
  const results: PackResult[] = [];
  for (const p of publicPackages()) {
    const { stdout } = await run('pnpm', ['pack', '--pack-destination', out, '--json'], {
      cwd: p.dir,
    });
    const tarball = (JSON.parse(stdout) as { filename: string }).filename;
    const problems: string[] = [];
    const lint = await publint({
      level: 'warning',
      pack: { tarball: toArrayBuffer(readFileSync(tarball)) },
    });
    for (const m of lint.messages)
      problems.push(`publint ${m.type} ${m.code} at ${m.path.join('.')}`);
    const attw = await run(
      join(root, 'node_modules/.bin/attw'),
      [tarball, '--profile', 'esm-only', '--format', 'json'],
      {
        cwd: root,
        maxBuffer: 64 << 20,
      },
    ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '{}' }));
    const report = JSON.parse(attw.stdout) as {
      analysis?: {
        problems?: Array<{ kind: string; entrypoint?: string; resolutionKind?: string }>;
      };
    };
    for (const pr of report.analysis?.problems ?? []) {
      if (pr.resolutionKind === 'node10' || pr.resolutionKind === 'node16-cjs') continue; // ESM-only by design
      problems.push(`attw ${pr.kind} ${pr.entrypoint ?? ''} ${pr.resolutionKind ?? ''}`.trim());
    }
    results.push({ name: p.name, tarball, problems });
  }
  return results;
}

/**
 * Installs the tarballs into a fresh project: each tarball is unpacked into node_modules, and its
 * third-party dependencies are linked to the copies the workspace already installed (no network).
 */
export async function installTarballs(results: PackResult[]): Promise<string> {
  const project = mkdtempSync(join(tmpdir(), 'streams-pack-'));
  const modules = join(project, 'node_modules');
  mkdirSync(join(modules, '@streams'), { recursive: true });
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  const linked = new Set<string>();
  const link = (name: string, from: string) => {
    if (linked.has(name) || name.startsWith('@streams/')) return;
    let target: string;
    try {
      target = realpathSync(join(from, 'node_modules', name));
    } catch {
      return; // an optional peer that the workspace does not install
    }
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(target, join(modules, name), 'dir');
    linked.add(name);
  };
  for (const r of results) {
    const dest = join(modules, r.name);
    mkdirSync(dest, { recursive: true });
    await run('tar', ['-xzf', r.tarball, '-C', dest, '--strip-components=1']);
    const pkg = JSON.parse(readFileSync(join(dest, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const info = publicPackages().find((p) => p.name === r.name)!;
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }))
      link(dep, info.dir);
  }
  link('@types/node', root);
  return project;
}

/** Removes a temporary consumer project. */
export function removeProject(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
