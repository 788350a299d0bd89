#!/usr/bin/env node
// Fails when a package imports against the dependency direction fixed in DESIGN.md, reaches
// into another package's files (deep imports, relative paths that leave the package), or has an
// import cycle between its own files (type-only imports count: they tie the modules together too).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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

/**
 * Packages whose import cycles are reported but do not fail the check, each with the cycle known
 * when it was listed. Their owners are removing them; the lead empties this list afterwards.
 */
/** @type {Record<string, string>} */
export const KNOWN_CYCLES = {};

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

/**
 * Returns a list of violations (empty when the tree is clean) for the workspace at `root`. Cycles
 * of packages in `knownCycles` go to `warnings` instead.
 * @param {string} root
 * @param {{ knownCycles?: Record<string, string>, warnings?: string[] }} [options]
 * @returns {string[]}
 */
export function checkImports(root, { knownCycles = KNOWN_CYCLES, warnings = [] } = {}) {
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
    const edges = new Map(); // file -> files of this package it imports
    for (const file of files) {
      const rel = relative(dir, file).split(sep).join('/');
      const text = readFileSync(file, 'utf8');
      const targets = new Set();
      edges.set(file, targets);
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2];
        const where = `${relative(root, file)}: import '${spec}'`;
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (!target.startsWith(dir + sep) && target !== dir) {
            violations.push(
              `${where} leaves package @streams/${short}; import the other package by name`,
            );
          } else {
            const source = sourceFile(target);
            if (source) targets.add(source);
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
    for (const { path: cycle, files: tangled } of importCycles(edges)) {
      const name = (f) => relative(dir, f).split(sep).join('/');
      let path = cycle.map(name).join(' -> ');
      if (tangled.length > cycle.length - 1)
        path += ` (${tangled.length} files in the tangle: ${tangled.map(name).sort().join(', ')})`;
      const known = knownCycles[short];
      if (known) warnings.push(`${relative(root, dir)}: import cycle ${path} (known: ${known})`);
      else
        violations.push(
          `${relative(root, dir)}: import cycle ${path}; move what both sides need into a module of its own`,
        );
    }
  }
  return violations;
}

/** The source file a relative import resolves to (`./x.js` is `./x.ts`), or undefined. */
function sourceFile(target) {
  const stem = target.replace(/\.[cm]?js$/, '');
  const candidates = [target, `${stem}.ts`, `${stem}.mts`, `${stem}.tsx`, join(target, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/**
 * The strongly connected groups of files (Tarjan's algorithm), each with one cycle through it as
 * a closed path (first file repeated at the end).
 */
function importCycles(edges) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const groups = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const group = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || edges.get(v)?.has(v)) groups.push(group);
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return groups.map((group) => ({ path: closedPath(edges, new Set(group)), files: group }));
}

/** A shortest path from the group's first file (by name) back to itself, inside the group. */
function closedPath(edges, group) {
  const start = [...group].sort()[0];
  const from = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of [...(edges.get(v) ?? [])].sort()) {
      if (!group.has(w)) continue;
      if (w === start) {
        const back = [];
        for (let at = v; at !== undefined; at = from.get(at)) back.push(at);
        return [...back.reverse(), start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const warnings = [];
  const violations = checkImports(root, { warnings });
  for (const w of warnings) console.warn(`[streams] warning: ${w}`);
  if (violations.length > 0) {
    console.error(
      `[streams] ${violations.length} import problem(s): package boundaries (DESIGN.md) or cycles:`,
    );
    for (const v of violations) console.error(`  ${v}`);
    process.exit(1);
  }
  console.log('[streams] package imports follow the dependency direction and have no new cycles');
}
