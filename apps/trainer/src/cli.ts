#!/usr/bin/env node
import { versionLine } from './version.js';

const argv = process.argv.slice(2);
// `--version` alone answers before any command machinery (or @streams/core) is loaded.
if (argv.length === 1 && argv[0] === '--version') process.stdout.write(versionLine());
else process.exitCode = await (await import('./main.js')).main(argv);
