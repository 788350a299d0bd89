import { benchCommand } from './benchCommand.js';
import { catCommand } from './catCommand.js';
import type { Command } from './commands.js';
import { convertCommand } from './convertCommand.js';
import { datasetsCommand } from './datasetsCommand.js';
import { indexCommand } from './indexCommand.js';
import { inspectCommand } from './inspectCommand.js';
import { reportCommand } from './reportCommand.js';
import { setupTfCommand } from './setupTfCommand.js';
import { signalsCommand } from './signalsCommand.js';
import { trainCommand } from './trainCommand.js';

/** Every subcommand, in the order help lists them. */
export const commands: Command[] = [
  trainCommand,
  reportCommand,
  benchCommand,
  catCommand,
  inspectCommand,
  convertCommand,
  indexCommand,
  datasetsCommand,
  signalsCommand,
  setupTfCommand,
];
