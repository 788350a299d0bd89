import { StreamsError } from './errors.js';

/** Where an optional package is needed, for the message: `{ by: '@streams/transforms', feature: 'image decoding' }`. */
export interface OptionalUse {
  /** The streams package that needs it. */
  by: string;
  /** What needs it, as a user would name it. */
  feature: string;
}

const loaded = new Map<string, Promise<unknown>>();

/**
 * Loads an optional peer dependency on first use, e.g.
 * `importOptional('sharp', () => import('sharp'), { by: '@streams/transforms', feature: 'image decoding' })`
 * (the import stays a literal so bundlers and the boundary check see it). A package that is not
 * installed, or does not load, fails with `STREAMS_MISSING_DEPENDENCY` naming it and the install
 * command.
 */
export function importOptional<M>(
  name: string,
  importer: () => Promise<M>,
  use: OptionalUse,
): Promise<M> {
  let done = loaded.get(name) as Promise<M> | undefined;
  if (!done) {
    done = importer().catch((cause: unknown) => {
      loaded.delete(name); // installed later in a long-lived process: the next call tries again
      throw missingDependency(name, use, cause);
    });
    loaded.set(name, done);
  }
  return done;
}

function missingDependency(name: string, use: OptionalUse, cause: unknown): StreamsError {
  const absent = isNotFound(cause, name);
  const scope = use.by.replace(/^@streams\//, '');
  const why = absent
    ? 'which is not installed'
    : `which is installed but did not load: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`;
  return new StreamsError(
    'STREAMS_MISSING_DEPENDENCY',
    `[streams/${scope}] ${use.feature} needs the optional package ${name}, ${why}`,
    {
      cause,
      fix: absent
        ? `install it next to ${use.by}: npm install ${name}`
        : `reinstall it (npm install ${name}) for this platform and Node version`,
    },
  );
}

/** True when the import failed because `name` itself cannot be found (not one of its own imports). */
function isNotFound(err: unknown, name: string): boolean {
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')
    return message.includes(`'${name}'`) || message.includes(`"${name}"`);
  // Bundlers and test runners word it their own way.
  return (
    /cannot find (package|module)|failed to (load|resolve)/i.test(message) && message.includes(name)
  );
}
