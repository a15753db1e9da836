#!/usr/bin/env bash
# Browser benchmark (not a test): the upload page in Chromium against the CLI on loopback, one 1 GiB
# file and a 5,000 × 64 KiB package; prints the ratios; then Chromium's own upload ceiling here
# (tests/js/bench_browser_ceiling.mjs: the same file to a sink that drops it). BENCH_MIB, BENCH_FILES, BENCH_ROUNDS and
# BENCH_DIR change it. Needs Debian's Chromium (/usr/bin/chromium).
#   bash scripts/bench_browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target}"
bash scripts/bench_build.sh
(cd tests/js && npm ci --no-audit --no-fund --silent)
export CONTENTHUB_TEST_BIN="$CARGO_TARGET_DIR/release/contenthub"
node tests/js/bench_browser.mjs
# Chromium's own ceiling on this machine, with no hub in the way: a bare sink that drops the bytes.
node tests/js/bench_browser_ceiling.mjs
