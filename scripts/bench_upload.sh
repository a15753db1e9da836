#!/usr/bin/env bash
# Upload benchmark (not a test): 2 GiB over loopback with our CLI, with tus-js-client into
# @tus/server (file store), and with `curl -T` as one PATCH into contenthub; prints the ratios.
#   bash scripts/bench_upload.sh            (BENCH_MIB=2048 BENCH_ROUNDS=3 BENCH_DIR=/var/tmp to change)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target}"
bash scripts/bench_build.sh
(cd tests/js && npm ci --no-audit --no-fund --silent)
export CONTENTHUB_TEST_BIN="$CARGO_TARGET_DIR/release/contenthub"
node tests/js/bench_upload.mjs
