#!/usr/bin/env bash
# Long-link benchmark (not a test): a 2 GiB file through the delay line (100 ms round trip, 4 MiB in
# flight per connection) with one tus-js-client stream, our CLI's defaults and --split 4; prints the
# ratios. BENCH_MIB, BENCH_RTT_MS, BENCH_WINDOW_KIB and BENCH_DIR change it.
#   bash scripts/bench_long_link.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target}"
bash scripts/bench_build.sh
(cd tests/js && npm ci --no-audit --no-fund --silent)
export CONTENTHUB_TEST_BIN="$CARGO_TARGET_DIR/release/contenthub" DELAYLINE_BIN="$CARGO_TARGET_DIR/release/delayline"
node tests/js/bench_long_link.mjs
