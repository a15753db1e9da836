#!/usr/bin/env bash
# The many-files benchmark (not a test): 250,000 × 16 KiB frames and their checksum.txt delivered to
# Valid as one package, by the CLI and by Chromium, on SQLite + local and on PostgreSQL + S3; prints
# the times, the hub's peak memory and validation against `npack verify`. Needs about 9 GB in
# BENCH_DIR (default /tmp), PostgreSQL (CONTENTHUB_TEST_POSTGRES_URL) and an S3 server
# (CONTENTHUB_TEST_S3_ENDPOINT, _BUCKET, _ACCESS_KEY, _SECRET_KEY, as for the tests).
# BENCH_FILES, BENCH_KIB, BENCH_BACKENDS=sqlite,postgres and BENCH_CLIENTS=cli,chromium change it.
#   bash scripts/bench_many_files.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target}"
bash scripts/bench_build.sh
(cd tests/js && npm ci --no-audit --no-fund --silent)
export CONTENTHUB_TEST_BIN="$CARGO_TARGET_DIR/release/contenthub" NPACK_BIN="$CARGO_TARGET_DIR/release/npack"
node tests/js/bench_many_files.mjs
