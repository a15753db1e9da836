#!/usr/bin/env bash
# The release binaries the benchmarks use (contenthub, npack, the delay line), built as one set:
# every bench script builds exactly this, so that one build serves them all (building a different
# set of packages unifies dependency features differently and rebuilds contenthub each time).
#   bash scripts/bench_build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target}"
cargo build --release -p contenthub -p npack -p testkit --bin contenthub --bin npack --bin delayline
