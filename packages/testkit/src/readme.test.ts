import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyBlocks, commentedOutput, readmeBlocks } from './readme.js';

const dir = mkdtempSync(join(tmpdir(), 'streams-testkit-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A README file holding `text`; returns its path. */
function readme(text: string): string {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.md`);
  writeFileSync(file, text);
  return file;
}

const TEXT = [
  '# x',
  '```ts',
  "console.log('a');",
  '```',
  '```',
  'plain text',
  '```',
  '```sh',
  'pnpm streams --help',
  '```',
].join('\n');

describe('README blocks', () => {
  it('reads every fenced block with its language and line', () => {
    expect(readmeBlocks(readme(TEXT))).toEqual([
      { lang: 'ts', code: "console.log('a');", line: 2 },
      { lang: '', code: 'plain text', line: 5 },
      { lang: 'sh', code: 'pnpm streams --help', line: 8 },
    ]);
  });

  it('rejects an unclosed block', () => {
    expect(() => readmeBlocks(readme('```ts\nx'))).toThrow(/:1: unclosed code block/);
  });

  it('returns the run blocks; plain text needs no classification', () => {
    const file = readme(TEXT);
    const run = classifyBlocks(file, ['console.log'], { 'streams --help': 'needs no test' });
    expect(run.map((b) => b.line)).toEqual([2]);
  });

  it('fails on a code block neither run nor skipped, and on an ambiguous marker', () => {
    const file = readme(TEXT);
    expect(() => classifyBlocks(file, ['console.log'], {})).toThrow(
      /blocks at lines 8 are neither run nor skipped with a reason/,
    );
    expect(() => classifyBlocks(file, ['console'], { s: 'x' })).toThrow(
      /2 code blocks contain "s"/,
    );
  });

  it('reads the output the comments of console.log lines promise', () => {
    const [block] = readmeBlocks(
      readme('```ts\nconst a = 1;\nconsole.log(a, [a]); // 1 [ 1 ]\nconsole.log(a);\n```'),
    );
    expect(commentedOutput(block!)).toEqual(['1 [ 1 ]']);
  });
});
