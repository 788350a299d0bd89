#!/usr/bin/env bash
# Sets up a fresh machine that has Node.js 20+ and npm: pnpm (pinned), the system packages the
# tests and the default job use (ffmpeg 5.1 with ffprobe, Debian's Fashion-MNIST), and the
# workspace dependencies. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.8
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$PNPM_VERSION" ]; then
  npm install --global "pnpm@$PNPM_VERSION"
fi

need=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
[ -x /usr/bin/chromium ] || need+=(chromium) # the trainer's report test (playwright-core drives it)
# The .npy tests write and read their fixtures with NumPy (any python3 on PATH, or Debian's).
{ python3 -c 'import numpy' || /usr/bin/python3 -c 'import numpy'; } >/dev/null 2>&1 ||
  need+=(python3-numpy)
if [ "${#need[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${need[@]}"
  else
    echo "setup: please install ${need[*]} with your system's package manager" >&2
    exit 1
  fi
fi

pnpm install --frozen-lockfile

# The native TensorFlow backend of @streams/cl, built from TensorFlow's Python wheel when pip can
# get one (streams setup-tf; quick when already built); without it the learners run on WASM.
if tf_log=$(pnpm -s streams setup-tf 2>&1); then
  printf '%s\n' "$tf_log"
else
  echo "setup: no native TensorFlow backend, the learners will use WASM: $(printf '%s' "$tf_log" | tail -n 1)"
fi
