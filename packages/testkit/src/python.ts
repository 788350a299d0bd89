import { execFileSync } from 'node:child_process';

let found: string | undefined;

/**
 * A python3 that imports NumPy, for tests that write or read `.npy` files with the real thing:
 * `STREAMS_PYTHON`, else `python3` on PATH, else Debian's `/usr/bin/python3` (scripts/setup.sh
 * installs `python3-numpy` when no python3 has NumPy).
 */
export function numpyPython(): string {
  if (found) return found;
  const candidates = [process.env.STREAMS_PYTHON, 'python3', '/usr/bin/python3'];
  for (const py of candidates) {
    if (!py) continue;
    try {
      execFileSync(py, ['-c', 'import numpy'], { stdio: 'ignore' });
      found = py;
      return py;
    } catch {
      // not there, or without NumPy: try the next
    }
  }
  throw new Error(
    'no python3 with NumPy: run scripts/setup.sh (it installs python3-numpy) or set STREAMS_PYTHON',
  );
}
