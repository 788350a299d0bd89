// The release path as users meet it: a copy of the repository (with the packages built) is
// versioned and published by changesets to a real npm registry, Verdaccio on 127.0.0.1 (only
// @streams/* is published there; every other package comes from the npm registry through its
// uplink), then each public package is installed alone from it with npm into an empty project.
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  type Dirent,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { runServer } from 'verdaccio';
import { publicPackages, root } from './packCheck.js';

const run = promisify(execFile);

/** A running local registry. */
export interface Registry extends AsyncDisposable {
  /** Base URL with a trailing slash, e.g. `http://127.0.0.1:4873/`. */
  url: string;
  /** A token of a user registered on it (publishing needs one). */
  token: string;
  close(): Promise<void>;
}

/** The environment of a child npm/pnpm/changeset call: the caller's, without its npm settings. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // NODE_PATH: pnpm's bin shims point it at the workspace's hoisted node_modules/.pnpm/node_modules,
  // where a consumer would find packages it never installed (e.g. a built @tensorflow/tfjs-node).
  for (const [k, v] of Object.entries(process.env))
    if (!/^(npm|pnpm)_(config|package|lifecycle)_/i.test(k) && k !== 'NODE_PATH') env[k] = v;
  return { ...env, ...extra };
}

/** The npm registry this machine is configured for (the uplink of the local one). */
export async function upstreamRegistry(cwd: string): Promise<string> {
  const { stdout } = await run('npm', ['config', 'get', 'registry'], { cwd, env: cleanEnv() });
  const url = stdout.trim();
  return url.endsWith('/') ? url : `${url}/`;
}

/**
 * Starts Verdaccio on 127.0.0.1 (a free port) with its storage and users in `dir`, and registers
 * a user for publishing. `@streams/*` lives only there; everything else is proxied from `uplink`.
 */
export async function startRegistry(dir: string, uplink: string): Promise<Registry> {
  const app = (await runServer({
    self_path: join(dir, 'config.yaml'),
    storage: join(dir, 'storage'),
    auth: { htpasswd: { file: join(dir, 'htpasswd'), max_users: 10 } },
    uplinks: { npm: { url: uplink, timeout: '60s', maxage: '30m' } },
    packages: {
      '@streams/*': { access: '$all', publish: '$authenticated' },
      '**': { access: '$all', proxy: 'npm' },
    },
    log: { type: 'stdout', format: 'pretty', level: 'error' },
    web: { enable: false },
    // biome-ignore lint/suspicious/noExplicitAny: Verdaccio's config type wants fields it fills in itself
  } as any)) as Server;
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}/`;
  const close = () =>
    new Promise<void>((resolve) => {
      app.closeAllConnections();
      app.close(() => resolve());
    });
  const res = await fetch(`${url}-/user/org.couchdb.user:streams`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'streams', password: 'release-test' }),
  });
  const { token } = (await res.json()) as { token?: string };
  if (!token) {
    await close();
    throw new Error(`the local registry refused to register a user (HTTP ${res.status})`);
  }
  return { url, token, close, [Symbol.asyncDispose]: close };
}

/**
 * Copies the repository into `dest` as a checkout would have it (tracked and unignored files) plus
 * the packages' built `dist/`, links the dependencies installed here, and commits it all to a
 * fresh git repository (changesets tags what it publishes).
 */
export async function copyRepo(dest: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: root,
    maxBuffer: 64 << 20,
  });
  for (const rel of stdout.split('\0')) {
    if (!rel) continue;
    const from = join(root, rel);
    if (!lstatSync(from, { throwIfNoEntry: false })?.isFile()) continue; // deleted, not committed
    mkdirSync(dirname(join(dest, rel)), { recursive: true });
    copyFileSync(from, join(dest, rel));
  }
  for (const p of publicPackages())
    cpSync(join(p.dir, 'dist'), join(dest, relative(root, p.dir), 'dist'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dest, 'node_modules'), 'dir');
  linkWorkspace(dest);
  const git = (...args: string[]) =>
    run(
      'git',
      [
        '-c',
        'user.name=streams',
        '-c',
        'user.email=streams@localhost',
        '-c',
        'commit.gpgsign=false',
        ...args,
      ],
      { cwd: dest, env: cleanEnv(), maxBuffer: 64 << 20 },
    );
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-qm', 'release test');
}

/**
 * Links each package's `@streams/*` dependencies to the copies next to it, as `pnpm install`
 * would: `pnpm publish` reads their versions there to replace `workspace:` ranges.
 */
function linkWorkspace(dest: string): void {
  const dirs = new Map<string, string>(); // package name -> its folder in the copy
  for (const group of ['packages', 'apps'])
    for (const name of readdirSync(join(dest, group))) {
      const dir = join(dest, group, name);
      const pkg = readJson(join(dir, 'package.json'));
      if (pkg?.name) dirs.set(pkg.name, dir);
    }
  for (const dir of dirs.values()) {
    const pkg = readJson(join(dir, 'package.json'))!;
    const deps = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies };
    for (const dep of Object.keys(deps)) {
      const target = dirs.get(dep);
      if (!target) continue;
      const link = join(dir, 'node_modules', dep);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(relative(dirname(link), target), link, 'dir');
    }
  }
}

function readJson(
  path: string,
):
  | { name?: string; dependencies?: object; devDependencies?: object; peerDependencies?: object }
  | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Runs the repository's changesets CLI in `cwd`. */
export function changeset(cwd: string, args: string[], env: NodeJS.ProcessEnv) {
  return run(join(root, 'node_modules/.bin/changeset'), args, {
    cwd,
    env,
    maxBuffer: 64 << 20,
  });
}

/** The name and version of every public package of the workspace at `dir`. */
export function versions(dir: string): Array<{ name: string; version: string; dir: string }> {
  return publicPackages().map((p) => {
    const copy = join(dir, relative(root, p.dir));
    const pkg = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as {
      version: string;
    };
    return { name: p.name, version: pkg.version, dir: copy };
  });
}

/** Installs `spec` alone with npm from `registry` into the new empty project `dir`. */
export async function installAlone(registry: string, spec: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  writeFileSync(join(dir, '.npmrc'), `registry=${registry}\n`);
  await run('npm', ['install', spec, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    env: cleanEnv(),
    maxBuffer: 64 << 20,
  });
}

/** The largest packages installed in `modules` (a node_modules folder), with their sizes. */
export function largestPackages(modules: string, count: number): Array<[string, number]> {
  const sizes: Array<[string, number]> = [];
  for (const name of readdirSync(modules)) {
    if (name.startsWith('.')) continue;
    const names = name.startsWith('@')
      ? readdirSync(join(modules, name)).map((n) => `${name}/${n}`)
      : [name];
    for (const n of names) sizes.push([n, dirBytes(join(modules, n))]);
  }
  return sizes.sort((a, b) => b[1] - a[1]).slice(0, count);
}

/** Bytes of every file under `dir` (apparent sizes; links not followed). */
export function dirBytes(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile()) total += lstatSync(path).size;
    }
  };
  walk(dir);
  return total;
}
