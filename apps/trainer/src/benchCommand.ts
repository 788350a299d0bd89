import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { StreamsError } from '@streams/core';
import Table from 'cli-table3';
import type { Command } from './commands.js';

/** One figure of bench-results.json (the contract of `pnpm bench`). */
interface BenchEntry {
  name: string;
  unit: string;
  value: number;
  reference: string;
  referenceValue: number;
  ratio: number;
  target: number | null;
}

const fmt = (x: number) =>
  Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3);

/** Formats benchmark entries as a table: value, reference, ratio and whether the target is met. */
export function benchResultsTable(entries: readonly BenchEntry[]): string {
  const table = new Table({
    head: ['benchmark', 'value', 'reference', 'ratio', 'target'],
    style: { head: [], border: [] },
  });
  for (const e of entries) {
    table.push([
      e.name,
      `${fmt(e.value)} ${e.unit}`,
      `${e.reference}: ${fmt(e.referenceValue)} ${e.unit}`,
      e.ratio.toFixed(3),
      e.target === null ? '-' : `${fmt(e.target)} ${e.ratio >= e.target ? 'ok' : 'MISSED'}`,
    ]);
  }
  return table.toString();
}

/**
 * `streams bench`: prints the table of the last `pnpm bench` (bench-results.json); with --run it
 * runs `pnpm bench` first (several minutes: every package's benchmarks, one at a time).
 */
export const benchCommand: Command = {
  name: 'bench',
  usage: 'streams bench [--run] [--file bench-results.json]',
  flags: {
    run: { type: 'boolean', description: 'run "pnpm bench" first (from the repository root)' },
    file: { type: 'string', description: 'results file', default: 'bench-results.json' },
  },
  async run({ flags, io }) {
    const file = flags.file as string;
    if (flags.run) {
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn('pnpm', ['bench'], {
          stdio: ['ignore', 'inherit', 'inherit'],
          signal: io.signal,
        });
        child.on('error', reject);
        child.on('close', (c) => resolve(c ?? 1));
      });
      if (code !== 0) {
        throw new StreamsError(
          'STREAMS_INTERNAL',
          `[streams/trainer] "pnpm bench" exited with ${code}`,
          {
            fix: 'see its output above',
          },
        );
      }
    }
    let entries: BenchEntry[];
    try {
      entries = JSON.parse(await readFile(file, 'utf8')) as BenchEntry[];
    } catch (cause) {
      throw new StreamsError(
        'STREAMS_NOT_FOUND',
        `[streams/trainer] no benchmark results in ${file}`,
        {
          cause,
          fix: 'run "streams bench --run" (or "pnpm bench") from the repository root first',
        },
      );
    }
    io.out.write(`${benchResultsTable(entries)}\n`);
    return 0;
  },
};
