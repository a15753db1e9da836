#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, builds, runs everything.
#   bash scripts/test.sh
# Every backend is required: PostgreSQL (CONTENTHUB_TEST_POSTGRES_URL, default 127.0.0.1:5432), the S3
# server it starts, the browsers. Leave one out only on purpose: CONTENTHUB_TEST_SKIP=postgres,s3,browser.
# Installs (when missing): Info-ZIP unzip/zip, 7-Zip, ffmpeg, Chromium, Firefox ESR and libavcodec (Debian); a Python virtualenv with the original
# npack 0.8.0, pytest, openapi-spec-validator, tuspy and schemathesis (PyPI); s3s-fs (crates.io), started on
# 127.0.0.1; tus-js-client, @tus/server, playwright-core, puppeteer-core and axe-core (npm). Set CARGO_TARGET_DIR to share build output between clones.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
say() { printf '\n== %s\n' "$*"; }
started=$(date +%s)

need_debs=()
command -v unzip >/dev/null || need_debs+=(unzip)
command -v zip >/dev/null || need_debs+=(zip)
# 7-Zip checks the package ZIPs the hub serves (the interop tests).
command -v 7z >/dev/null || need_debs+=(p7zip-full)
# Real media for the validation tests is made at test time with Debian's ffmpeg.
command -v ffmpeg >/dev/null || need_debs+=(ffmpeg)
[ -x /usr/bin/chromium ] || need_debs+=(chromium)
[ -x /usr/bin/firefox-esr ] || need_debs+=(firefox-esr)
# Firefox plays H.264 through the system's libavcodec (whichever version this Debian has).
ldconfig -p | grep -q 'libavcodec\.so\.' || need_debs+=(libavcodec)
if ((${#need_debs[@]})); then
  say "installing ${need_debs[*]} from Debian"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  for i in "${!need_debs[@]}"; do
    if [ "${need_debs[$i]}" = libavcodec ]; then
      need_debs[$i]=$(apt-cache search --names-only '^libavcodec[0-9]+$' | awk '$1 ~ /^libavcodec[0-9]+$/ {print $1}' | sort -V | tail -1)
    fi
  done
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null
fi

venv="$CARGO_TARGET_DIR/test-venv"
if ! "$venv/bin/python" -c 'import pytest, openapi_spec_validator, tusclient, schemathesis' 2>/dev/null || [ ! -x "$venv/bin/npack" ]; then
  say "creating a Python virtualenv with npack 0.8.0, pytest, openapi-spec-validator, tuspy and schemathesis ($venv)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'npack==0.8.0' 'pytest>=8,<9' \
    'openapi-spec-validator>=0.7,<0.9' 'tuspy>=1.1,<2' 'schemathesis>=4.32,<5'
fi

# Every backend the suite covers must be there: PostgreSQL, the S3 server (started below) and the
# browsers. One that is missing fails the run, naming it, unless CONTENTHUB_TEST_SKIP says on purpose
# to leave it out (comma-separated: postgres, s3, browser). CI never sets it.
skip=",${CONTENTHUB_TEST_SKIP:-},"
skipping() { [[ "$skip" == *",$1,"* ]]; }
[ -n "${CI:-}" ] && [ -n "${CONTENTHUB_TEST_SKIP:-}" ] && { echo "CI must not skip backends (CONTENTHUB_TEST_SKIP=$CONTENTHUB_TEST_SKIP)" >&2; exit 2; }
export CONTENTHUB_TEST_SKIP_LOG="$CARGO_TARGET_DIR/test-skipped.log"
rm -f "$CONTENTHUB_TEST_SKIP_LOG"
export CONTENTHUB_TEST_POSTGRES_URL="${CONTENTHUB_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if skipping postgres; then
  say "PostgreSQL left out on purpose (CONTENTHUB_TEST_SKIP): its halves will be listed as skipped"
else
  pg_hostport=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.hostname or "127.0.0.1", p.port or 5432)' "$CONTENTHUB_TEST_POSTGRES_URL")
  if ! python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)' $pg_hostport 2>/dev/null; then
    echo "PostgreSQL does not answer at ${CONTENTHUB_TEST_POSTGRES_URL%%@*}@${pg_hostport/ /:}: the suite runs on PostgreSQL too." >&2
    echo "Start it, point CONTENTHUB_TEST_POSTGRES_URL at one, or leave it out on purpose with CONTENTHUB_TEST_SKIP=postgres." >&2
    exit 1
  fi
  say "PostgreSQL: ${CONTENTHUB_TEST_POSTGRES_URL%%@*}@${pg_hostport/ /:}"
fi

if skipping s3; then
  say "S3 left out on purpose (CONTENTHUB_TEST_SKIP): its halves will be listed as skipped"
else
  # A real S3-compatible server: s3s-fs (signature checks on, data in a temp dir). Each test stack
  # keeps its keys under a prefix of its own in one bucket.
  if ! command -v s3s-fs >/dev/null; then
    say "installing s3s-fs 0.14.1 from crates.io (once; about 4 minutes)"
    cargo install s3s-fs@0.14.1 --features binary --locked --quiet
  fi
  s3_root=$(mktemp -d)
  s3_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$s3_root/contenthub-test"
  s3_secret=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key contenthub --secret-key "$s3_secret" "$s3_root" \
    >"$s3_root.log" 2>&1 &
  s3_pid=$!
  trap 'kill $s3_pid 2>/dev/null; rm -rf "$s3_root" "$s3_root.log"' EXIT
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $s3_port), 1)" 2>/dev/null && break
    sleep 0.1
  done
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $s3_port), 1)" 2>/dev/null \
    || { echo "s3s-fs did not start:" >&2; cat "$s3_root.log" >&2; exit 1; }
  export CONTENTHUB_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port" CONTENTHUB_TEST_S3_BUCKET=contenthub-test \
    CONTENTHUB_TEST_S3_ACCESS_KEY=contenthub CONTENTHUB_TEST_S3_SECRET_KEY="$s3_secret"
  say "S3: s3s-fs at $CONTENTHUB_TEST_S3_ENDPOINT"
fi

say "building"
cargo build --release -p npack

say "Rust tests (unit + integration; behaviour suites on SQLite + local and on PostgreSQL + S3)"
rust_log="$CARGO_TARGET_DIR/test-rust.log"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$rust_log"
else
  cargo test --workspace --no-fail-fast 2>&1 | tee "$rust_log"
fi

say "the OpenAPI document is valid OpenAPI 3.1"
"$venv/bin/python" -m openapi_spec_validator crates/hub/openapi.json

say "interoperability tests: the original npack, Python's zipfile, Info-ZIP unzip, the tuspy client; schemathesis against the OpenAPI document"
NPACK_BIN="$CARGO_TARGET_DIR/release/npack" ORIGINAL_NPACK="$venv/bin/npack" \
  CONTENTHUB_TEST_BIN="$CARGO_TARGET_DIR/debug/contenthub" "$venv/bin/python" -m pytest -q tests/interop

(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
if skipping browser; then
  say "tus-js-client (npm) against the real server; the browsers are left out on purpose (CONTENTHUB_TEST_SKIP)"
  echo "SKIPPED the browser tests: tests/js/ui.test.mjs, tests/js/firefox.test.mjs (CONTENTHUB_TEST_SKIP=browser)" >>"$CONTENTHUB_TEST_SKIP_LOG"
  (cd tests/js && CONTENTHUB_TEST_BIN="$CARGO_TARGET_DIR/debug/contenthub" node --test tus.test.mjs)
else
  say "tus-js-client (npm) and the browser interface in Debian's Chromium (playwright-core) and Firefox ESR (puppeteer-core, WebDriver BiDi) against the real server"
  (cd tests/js && CONTENTHUB_TEST_BIN="$CARGO_TARGET_DIR/debug/contenthub" node --test)
  echo "screenshots of the pages: artifacts/screenshots/"
fi

say "summary"
ran_pg=$(grep -cE '^ +PASS .*(postgres|PostgreSQL)' "$rust_log" || true)
skipped_pg=$(grep -ciE 'postgres' "$CONTENTHUB_TEST_SKIP_LOG" 2>/dev/null || true)
ran_sqlite=$(grep -cE '^ +PASS .*(sqlite)' "$rust_log" || true)
echo "Rust tests on SQLite + local: $ran_sqlite named for it; on PostgreSQL (+ S3): $((ran_pg - ${skipped_pg:-0})) ran"
if [ -s "$CONTENTHUB_TEST_SKIP_LOG" ]; then
  echo "skipped on purpose (CONTENTHUB_TEST_SKIP=${CONTENTHUB_TEST_SKIP:-}):"
  sort -u "$CONTENTHUB_TEST_SKIP_LOG" | sed 's/^/  /'
else
  echo "nothing skipped: every backend ran"
fi
echo "test command wall time: $(( $(date +%s) - started )) s"
