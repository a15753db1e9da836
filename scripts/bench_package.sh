#!/usr/bin/env bash
# Package benchmark (not a test): 20,000 × 64 KiB frames and their checksum.txt delivered by the CLI
# as a zipless package, against the same bytes as one file; prints the ratios. BENCH_FILES,
# BENCH_KIB, BENCH_DIR change it; BENCH_RTT_MS (with BENCH_WINDOW_KIB) sends both through the delay
# line, with one tus-js-client stream as the baseline; BENCH_OLD_BIN times an older binary too.
#   bash scripts/bench_package.sh
#   BENCH_RTT_MS=100 bash scripts/bench_package.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target}"
bash scripts/bench_build.sh
(cd tests/js && npm ci --no-audit --no-fund --silent)
export CONTENTHUB_TEST_BIN="$CARGO_TARGET_DIR/release/contenthub" DELAYLINE_BIN="$CARGO_TARGET_DIR/release/delayline"
node tests/js/bench_package.mjs
