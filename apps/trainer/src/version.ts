import pkg from '../package.json' with { type: 'json' };

/** The CLI's version line. */
export function versionLine(): string {
  return `${pkg.version}\n`;
}
