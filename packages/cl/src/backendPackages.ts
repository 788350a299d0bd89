// Where the optional native packages are, without loading them: shared by selectBackend and the
// setup command. Every specifier is a literal so the package-boundary check can read it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The native packages, in the order `auto` tries them. */
export const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** `@tensorflow/tfjs-node-gpu` (CUDA) or `@tensorflow/tfjs-node` (CPU). */
export type NativePackage = (typeof NATIVE_PACKAGES)[number];

const require = createRequire(import.meta.url);

const NATIVE: Record<NativePackage, { manifest(): string; load(): unknown }> = {
  '@tensorflow/tfjs-node-gpu': {
    manifest: () => require.resolve('@tensorflow/tfjs-node-gpu/package.json'),
    load: () => require('@tensorflow/tfjs-node-gpu'),
  },
  '@tensorflow/tfjs-node': {
    manifest: () => require.resolve('@tensorflow/tfjs-node/package.json'),
    load: () => require('@tensorflow/tfjs-node'),
  },
};

/** The folder of a native package as `@streams/cl` resolves it, or `undefined` if not installed. */
export function nativePackageDir(pkg: NativePackage): string | undefined {
  try {
    return dirname(NATIVE[pkg].manifest());
  } catch {
    return undefined;
  }
}

/** Loads a native package (it registers and starts the `tensorflow` backend); throws as it does. */
export function loadNativePackage(pkg: NativePackage): void {
  NATIVE[pkg].load();
}

/** The `version` field of the package in `dir`. */
export function packageVersion(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string })
    .version;
}
