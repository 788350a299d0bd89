// The wheel extraction step of setupTf on a small wheel made here: the library files under the
// names the binding links against, and only the headers its sources reach. The full build runs
// in scripts/setup.sh (CI), and the tests of `streams setup-tf` check its errors.
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const extractor = join(packageDir, 'scripts', 'extractTfWheel.py');
const work = mkdtempSync(join(tmpdir(), 'streams-extract-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Writes a zip with `files` (name -> text) using Python's zipfile, as pip's wheels are. */
async function makeWheel(name: string, files: Record<string, string>): Promise<string> {
  const path = join(work, name);
  const script =
    'import json, sys, zipfile\n' +
    'with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:\n' +
    '    for n, t in json.loads(sys.argv[2]).items(): z.writestr(n, t)\n';
  await run('python3', ['-c', script, path, JSON.stringify(files)]);
  return path;
}

describe('extractTfWheel.py', () => {
  it('copies the C library with the linked names and the header closure of the binding', async () => {
    const wheel = await makeWheel('tf.whl', {
      'tensorflow/libtensorflow_cc.so.2': 'the C API',
      'tensorflow/libtensorflow_framework.so.2': 'the framework',
      'tensorflow/include/tensorflow/c/c_api.h':
        '#include "tensorflow/c/tf_status.h"\n#include <stdint.h>\n',
      'tensorflow/include/tensorflow/c/tf_status.h': '  # include "xla/tsl/c/tsl_status.h"\n',
      'tensorflow/include/xla/tsl/c/tsl_status.h': '/* leaf */\n',
      'tensorflow/include/tensorflow/core/unrelated.h': '/* nobody includes me */\n',
      'tensorflow/python/_pywrap.so': 'python only',
    });
    const binding = join(work, 'binding');
    mkdirSync(binding);
    writeFileSync(join(binding, 'a.cc'), '#include "tensorflow/c/c_api.h"\n#include "local.h"\n');
    writeFileSync(join(binding, 'local.h'), '#include <node_api.h>\n');
    const deps = join(work, 'deps');
    const { stdout } = await run('python3', [extractor, wheel, deps, binding]);
    expect(JSON.parse(stdout)).toEqual({
      libs: ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'],
      headers: 3,
    });
    expect(readFileSync(join(deps, 'lib', 'libtensorflow.so'), 'utf8')).toBe('the C API');
    expect(readlinkSync(join(deps, 'lib', 'libtensorflow.so'))).toBe('libtensorflow_cc.so.2');
    expect(readlinkSync(join(deps, 'lib', 'libtensorflow_framework.so'))).toBe(
      'libtensorflow_framework.so.2',
    );
    for (const h of [
      'tensorflow/c/c_api.h',
      'tensorflow/c/tf_status.h',
      'xla/tsl/c/tsl_status.h',
    ]) {
      expect(existsSync(join(deps, 'include', h)), h).toBe(true);
    }
    expect(existsSync(join(deps, 'include', 'tensorflow/core/unrelated.h'))).toBe(false);
    expect(existsSync(join(deps, 'include', 'local.h'))).toBe(false);

    // Run again over the same folder (setup-tf --force): it starts clean, no stale symlink errors.
    await run('python3', [extractor, wheel, deps, binding]);
    expect(readFileSync(join(deps, 'lib', 'libtensorflow_framework.so'), 'utf8')).toBe(
      'the framework',
    );
  });

  it('refuses a wheel without the C library, saying why (exit code 2)', async () => {
    const wheel = await makeWheel('other.whl', { 'numpy/__init__.py': '' });
    const err = await run('python3', [extractor, wheel, join(work, 'deps2'), work]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(
      /has no tensorflow\/libtensorflow_cc\.so\.2: not a TensorFlow 2\.x Linux wheel/,
    );
  });

  it('ships with the package', () => {
    const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
    expect(pkg.files).toContain('scripts/extractTfWheel.py');
  });
});
