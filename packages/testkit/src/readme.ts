// Runs README examples as written, so a README that changes and breaks one fails a test.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, where every README example is run from. */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** One fenced code block of a README. */
export interface ReadmeBlock {
  /** The info string after the fence (`ts`, `sh`, or '' for plain text). */
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** Every fenced block of a README (a path relative to the repository root, or absolute). */
export function readmeBlocks(readme: string): ReadmeBlock[] {
  const lines = readFileSync(resolve(REPO_ROOT, readme), 'utf8').split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`${readme}:${i + 1}: unclosed code block`);
    blocks.push({ lang: open[1]!, code: lines.slice(i + 1, end).join('\n'), line: i + 1 });
    i = end;
  }
  return blocks;
}

/**
 * Checks that every ```ts/```js/```sh block of a README is either run (`run` holds a text each run
 * block contains) or skipped with a reason (`skip` maps a text the block contains to why), so a
 * new example cannot go unrun silently. Returns the run blocks in `run`'s order.
 */
export function classifyBlocks(
  readme: string,
  run: string[],
  skip: Record<string, string>,
): ReadmeBlock[] {
  const code = readmeBlocks(readme).filter((b) => ['ts', 'js', 'sh'].includes(b.lang));
  const find = (marker: string) => {
    const hits = code.filter((b) => b.code.includes(marker));
    if (hits.length !== 1) {
      throw new Error(`${readme}: ${hits.length} code blocks contain ${JSON.stringify(marker)}`);
    }
    return hits[0]!;
  };
  const ran = run.map(find);
  const skipped = Object.keys(skip).map(find);
  const unclassified = code.filter((b) => !ran.includes(b) && !skipped.includes(b));
  if (unclassified.length > 0) {
    throw new Error(
      `${readme}: blocks at lines ${unclassified.map((b) => b.line).join(', ')} are neither run nor skipped with a reason`,
    );
  }
  return ran;
}

/** The output an example's comments promise: the `// ...` after each one-line `console.log(...)`. */
export function commentedOutput(block: ReadmeBlock): string[] {
  return [...block.code.matchAll(/^console\.log\(.*\);? \/\/ (.*)$/gm)].map((m) => m[1]!.trim());
}

/** What a child process printed and how it ended. */
export interface ChildOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program from the repository root (or `cwd`), resolving whether it succeeds or not. */
export function runChild(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ChildOutcome> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? process.env, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Runs a TypeScript example as a user would: written to a temporary module inside `packageDir` (so
 * its `@streams/*` imports resolve as they do for a user), run by Node with tsx from the repository
 * root. `replace` swaps texts first (e.g. a `/tmp/...` path for a fresh temporary directory);
 * `prepend` and `append` add lines before and after it (a fragment's context from the README, or
 * a line printing what it computed but does not print).
 */
export async function runTsExample(
  block: ReadmeBlock,
  packageDir: string,
  options: {
    replace?: Record<string, string>;
    prepend?: string;
    append?: string;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<ChildOutcome> {
  let code = block.code;
  for (const [from, to] of Object.entries(options.replace ?? {})) {
    if (!code.includes(from)) throw new Error(`README block at line ${block.line} has no ${from}`);
    code = code.replaceAll(from, to);
  }
  // .mts: the examples await at top level.
  const file = join(packageDir, `readme-${block.line}-${process.pid}.gen.mts`);
  const lines = [options.prepend, code, options.append].filter((l) => l !== undefined);
  writeFileSync(file, `${lines.join('\n')}\n`);
  try {
    return await runChild(
      process.execPath,
      ['--import', 'tsx', '--conditions=@streams/source', file],
      { env: options.env },
    );
  } finally {
    rmSync(file, { force: true });
  }
}
