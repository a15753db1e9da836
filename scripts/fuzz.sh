#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted bytes (not part of the test run; needs a
# nightly toolchain and cargo-fuzz, which it installs). Each target runs FUZZ_SECONDS (600) with
# FUZZ_JOBS (2) at a time; new inputs land in fuzz/corpus/TARGET/ (minimised at the end), a
# crash stops that target and is saved in fuzz/artifacts/TARGET/: move it to
# fuzz/regressions/TARGET/ with the fix, where `cargo test -p fuzz-checks` replays it for ever.
#   bash scripts/fuzz.sh                      # every target
#   FUZZ_SECONDS=60 bash scripts/fuzz.sh media cursor
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/contenthub-fuzz-target}"
seconds="${FUZZ_SECONDS:-600}"
jobs="${FUZZ_JOBS:-2}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(media npack_zip checksum_txt tus_headers cursor metadata)
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build
mkdir -p logs
run() {
  local target=$1 extra=()
  # npack verifies with a scoped thread; LeakSanitizer reports glibc's thread-exit record for it.
  [ "$target" = npack_zip ] && extra+=(-detect_leaks=0)
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 "${extra[@]}" >"logs/$target.log" 2>&1
  local rc=$?
  local runs
  runs=$(grep -E '^stat::number_of_executed_units' "logs/$target.log" | awk '{print $2}')
  local cov
  cov=$(grep -E '#[0-9]+.*DONE' "logs/$target.log" | tail -1 | grep -oE 'cov: [0-9]+' || true)
  if [ $rc -eq 0 ]; then
    echo "$target: ${runs:-?} inputs in ${seconds} s, no crash (${cov:-cov: ?})"
  else
    echo "$target: FAILED (exit $rc) after ${runs:-?} inputs; see fuzz/logs/$target.log and fuzz/artifacts/$target/"
  fi
  return $rc
}
failed=0
pids=()
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  run "$target" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
for target in "${targets[@]}"; do
  cargo +nightly fuzz cmin "$target" -- -rss_limit_mb=2048 -timeout=10 >/dev/null 2>&1 || true
done
exit $failed
