export type { Command, FlagSpec } from './commands.js';
export { EXIT, main } from './main.js';
