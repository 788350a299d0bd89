import { StreamsError } from '@streams/core';
import { catCommand } from './catCommand.js';
import type { Command } from './commands.js';
import { convertCommand } from './convertCommand.js';
import { indexCommand } from './indexCommand.js';
import { inspectCommand } from './inspectCommand.js';
import { setupTfCommand } from './setupTfCommand.js';

/** `streams train`: arrives with the trainer issue; until then it says so and fails. */
const train: Command = {
  name: 'train',
  summary: 'Train a continual learner on weighted streams from one config file.',
  usage: 'streams train [config.json] [--resume]',
  flags: {},
  async run() {
    throw new StreamsError(
      'STREAMS_NOT_IMPLEMENTED',
      '[streams/trainer] "streams train" (and so "pnpm start") is not available yet: the learners and the trainer land in a later release',
      { fix: 'use "streams --help" for the commands available now' },
    );
  },
};

/** Every subcommand, in the order help lists them. */
export const commands: Command[] = [
  train,
  catCommand,
  inspectCommand,
  convertCommand,
  indexCommand,
  setupTfCommand,
];
