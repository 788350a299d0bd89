import { StreamsError } from '@streams/core';
import type { Command } from './commands.js';
import { writeReport } from './report.js';

/** `streams report <run-dir>`: rebuilds report.html and the PNG charts from the run's metrics log. */
export const reportCommand: Command = {
  name: 'report',
  usage: 'streams report <run-dir> [--no-png]',
  args: ['run-dir'],
  flags: {
    'no-png': { type: 'boolean', description: 'write only report.html' },
  },
  async run({ positionals, flags, io }) {
    const dir = positionals[0];
    if (!dir) {
      throw new StreamsError(
        'STREAMS_INVALID_CONFIG',
        '[streams/trainer] "streams report" needs a run directory',
        {
          fix: 'run "streams report runs/<name>"',
        },
      );
    }
    const path = await writeReport(dir, { png: flags['no-png'] !== true });
    io.out.write(`report: ${path}\n`);
    return 0;
  },
};
