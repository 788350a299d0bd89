#!/usr/bin/env node
// Fails when a package imports against the dependency direction fixed in DESIGN.md, or reaches
// into another package's files (deep imports, relative paths that leave the package).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Which workspace packages each package may import (DESIGN.md, "Dependency direction"). */
export const ALLOWED = {
  core: [],
  cache: ['core'],
  downloader: ['cache', 'core'],
  index: ['downloader', 'core'],
  transforms: ['core'],
  multistream: ['index', 'downloader', 'cache', 'transforms', 'core'],
  cl: ['core'],
  testkit: ['core', 'cache', 'downloader', 'index', 'transforms', 'multistream', 'cl'],
  trainer: ['multistream', 'cl', 'transforms', 'index', 'downloader', 'cache', 'core'],
};

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s(?:[^'"`;]*?\sfrom\s)?['"]([^'"]+)['"]|(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g;

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else if (/\.(m|c)?[jt]sx?$/.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

/** Test and benchmark files may also use the private testkit. */
const isTestFile = (rel) =>
  /(^|\/)(test|bench)\//.test(rel) || /\.(test|bench)\.[cm]?[jt]sx?$/.test(rel);

/** Returns a list of violations (empty when the tree is clean) for the workspace at `root`. */
export function checkImports(root) {
  const violations = [];
  const pkgs = new Map(); // short name -> { dir, exports }
  for (const group of ['packages', 'apps']) {
    let names = [];
    try {
      names = readdirSync(join(root, group));
    } catch {
      continue;
    }
    for (const name of names) {
      const dir = join(root, group, name);
      let pkg;
      try {
        pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      const short = pkg.name.replace(/^@streams\//, '');
      pkgs.set(short, { dir, exports: Object.keys(pkg.exports ?? { '.': '' }) });
    }
  }
  for (const [short, { dir }] of pkgs) {
    const allowed = ALLOWED[short];
    if (!allowed) {
      violations.push(
        `${relative(root, dir)}: package @streams/${short} is not in the dependency table of scripts/checkImports.mjs`,
      );
      continue;
    }
    const files = ['src', 'test', 'bench'].flatMap((d) => {
      try {
        return [...walk(join(dir, d))];
      } catch {
        return [];
      }
    });
    for (const file of files) {
      const rel = relative(dir, file).split(sep).join('/');
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2];
        const where = `${relative(root, file)}: import '${spec}'`;
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (!target.startsWith(dir + sep) && target !== dir) {
            violations.push(
              `${where} leaves package @streams/${short}; import the other package by name`,
            );
          }
          continue;
        }
        const pm = /^@streams\/([^/]+)(\/.*)?$/.exec(spec);
        if (!pm) continue;
        const [, target, sub] = pm;
        if (target === short) {
          violations.push(`${where} imports its own package by name; use a relative import`);
          continue;
        }
        const info = pkgs.get(target);
        if (!info) {
          violations.push(`${where}: no workspace package @streams/${target}`);
          continue;
        }
        if (sub && !info.exports.includes(`.${sub}`)) {
          violations.push(
            `${where} is a deep import; @streams/${target} exports only ${info.exports.join(', ')}`,
          );
        }
        if (target === 'testkit') {
          if (!isTestFile(rel))
            violations.push(`${where}: @streams/testkit may be used only by tests and benchmarks`);
          continue;
        }
        if (!allowed.includes(target)) {
          violations.push(
            `${where} goes against the dependency direction: @streams/${short} may import ${allowed.map((a) => `@streams/${a}`).join(', ') || 'no other package'}`,
          );
        }
      }
    }
  }
  return violations;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const violations = checkImports(root);
  if (violations.length > 0) {
    console.error(
      `[streams] ${violations.length} import(s) break the package boundaries (DESIGN.md):`,
    );
    for (const v of violations) console.error(`  ${v}`);
    process.exit(1);
  }
  console.log('[streams] package imports follow the dependency direction');
}
