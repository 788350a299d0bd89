import { StreamsError } from '@streams/core';
import type { Driver } from './driver.js';
import { fileDriver } from './drivers/file.js';
import { gcsDriver } from './drivers/gcs.js';
import { httpDriver } from './drivers/http.js';
import { s3Driver } from './drivers/s3.js';
import { parseObjectUrl } from './objectUrl.js';

/** Something that makes a driver: called once, on first use of its scheme. */
export type DriverFactory = () => Driver;

interface Entry {
  factory: DriverFactory;
  driver?: Driver | undefined;
}

const registry = new Map<string, Entry>();
let builtinsLoaded = false;

let sharedHttp: Driver | undefined;

function sharedHttpDriver(): Driver {
  sharedHttp ??= httpDriver();
  return sharedHttp;
}

/** Schemes whose drivers ship with this package (their SDKs load on first use). */
const BUILTINS: Record<string, DriverFactory> = {
  file: () => fileDriver(),
  http: sharedHttpDriver,
  https: sharedHttpDriver,
  s3: () => s3Driver(),
  gs: () => gcsDriver(),
};

function ensureBuiltins(): void {
  if (builtinsLoaded) return;
  builtinsLoaded = true;
  for (const [scheme, factory] of Object.entries(BUILTINS))
    if (!registry.has(scheme)) registry.set(scheme, { factory });
}

/**
 * Registers the driver for `scheme` (`myscheme` for `myscheme://...` URLs), replacing any
 * previous one. Pass a driver or a factory; re-register `s3`, `gs` or `http(s)` to configure the
 * built-ins, e.g. `registerDriver('s3', () => s3Driver({ endpoint }))`.
 */
export function registerDriver(scheme: string, driver: Driver | DriverFactory): void {
  const key = normalizeScheme(scheme);
  ensureBuiltins();
  const old = registry.get(key);
  const entry: Entry =
    typeof driver === 'function' ? { factory: driver } : { factory: () => driver, driver };
  registry.set(key, entry);
  // A replaced driver's sockets are released in the background.
  if (old?.driver && old.driver !== entry.driver) void old.driver.dispose?.()?.catch(() => {});
}

/** Removes a scheme's driver (built-ins come back on next use). */
export function unregisterDriver(scheme: string): void {
  const key = normalizeScheme(scheme);
  const old = registry.get(key);
  registry.delete(key);
  const builtin = BUILTINS[key];
  if (builtin) registry.set(key, { factory: builtin });
  void old?.driver?.dispose?.()?.catch(() => {});
}

/** The schemes that have a driver. */
export function registeredSchemes(): string[] {
  ensureBuiltins();
  return [...registry.keys()].sort();
}

/**
 * The driver for `url` (`file:`, plain paths, `http(s):`, `s3:`, `gs:` or a registered scheme).
 * Throws STREAMS_INVALID_URL for a malformed URL and STREAMS_UNKNOWN_SCHEME for an unknown scheme.
 */
export function getDriver(url: string): Driver {
  const { scheme } = parseObjectUrl(url);
  ensureBuiltins();
  const entry = registry.get(scheme);
  if (!entry)
    throw new StreamsError(
      'STREAMS_UNKNOWN_SCHEME',
      `[streams/downloader] no storage driver for scheme "${scheme}:"`,
      {
        url,
        fix: `use one of ${registeredSchemes()
          .map((s) => `${s}:`)
          .join(', ')} or call registerDriver("${scheme}", driver)`,
      },
    );
  entry.driver ??= entry.factory();
  return entry.driver;
}

/** Disposes every driver that was created (for tests and clean shutdown). */
export async function disposeDrivers(): Promise<void> {
  const all = new Set([...registry.values()].map((e) => e.driver).filter((d) => d !== undefined));
  for (const entry of registry.values()) entry.driver = undefined;
  sharedHttp = undefined;
  await Promise.allSettled([...all].map(async (d) => d.dispose?.()));
}

function normalizeScheme(scheme: string): string {
  const key = scheme.replace(/:(\/\/)?$/, '').toLowerCase();
  if (!/^[a-z][a-z0-9+.-]*$/.test(key))
    throw new StreamsError(
      'STREAMS_INVALID_ARGUMENT',
      `[streams/downloader] "${scheme}" is not a URL scheme`,
      {
        fix: 'pass letters, digits, "+", "-" or "." only, e.g. "myscheme"',
      },
    );
  return key;
}
