#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, builds, runs everything.
#   bash scripts/test.sh
# Installs (when missing): Info-ZIP unzip/zip, Chromium, Firefox ESR and libavcodec (Debian); a Python virtualenv with the original
# npack 0.8.0, pytest, openapi-spec-validator and tuspy (PyPI); s3s-fs (crates.io), started on
# 127.0.0.1; tus-js-client, @tus/server, playwright-core and puppeteer-core (npm). Set CARGO_TARGET_DIR to share build output between clones.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
say() { printf '\n== %s\n' "$*"; }

need_debs=()
command -v unzip >/dev/null || need_debs+=(unzip)
command -v zip >/dev/null || need_debs+=(zip)
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
if ! "$venv/bin/python" -c 'import pytest, openapi_spec_validator, tusclient' 2>/dev/null || [ ! -x "$venv/bin/npack" ]; then
  say "creating a Python virtualenv with npack 0.8.0, pytest, openapi-spec-validator and tuspy ($venv)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'npack==0.8.0' 'pytest>=8,<9' \
    'openapi-spec-validator>=0.7,<0.9' 'tuspy>=1.1,<2'
fi

# The repository suite runs on PostgreSQL too when a server answers (CI has one on 127.0.0.1:5432).
if [ -z "${CONTENTHUB_TEST_POSTGRES_URL:-}" ]; then
  if python3 -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 2)' 2>/dev/null; then
    export CONTENTHUB_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
  else
    say "no PostgreSQL on 127.0.0.1:5432: the repository suite runs on SQLite only (set CONTENTHUB_TEST_POSTGRES_URL)"
  fi
fi
[ -n "${CONTENTHUB_TEST_POSTGRES_URL:-}" ] && say "repository suite also on PostgreSQL: ${CONTENTHUB_TEST_POSTGRES_URL%%@*}@…"

# A real S3-compatible server for the blob suite: s3s-fs (signature checks on, data in a temp dir).
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
for _ in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $s3_port), 1)" 2>/dev/null && break
  sleep 0.1
done
export CONTENTHUB_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port" CONTENTHUB_TEST_S3_BUCKET=contenthub-test \
  CONTENTHUB_TEST_S3_ACCESS_KEY=contenthub CONTENTHUB_TEST_S3_SECRET_KEY="$s3_secret"
say "blob suite also on S3: s3s-fs at $CONTENTHUB_TEST_S3_ENDPOINT"

say "building"
cargo build --release -p npack

say "Rust tests (unit + integration)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

say "the OpenAPI document is valid OpenAPI 3.1"
"$venv/bin/python" -m openapi_spec_validator crates/hub/openapi.json

say "interoperability tests: the original npack, Python's zipfile, Info-ZIP unzip, the tuspy client"
NPACK_BIN="$CARGO_TARGET_DIR/release/npack" ORIGINAL_NPACK="$venv/bin/npack" \
  CONTENTHUB_TEST_BIN="$CARGO_TARGET_DIR/debug/contenthub" "$venv/bin/python" -m pytest -q tests/interop

say "tus-js-client (npm) and the browser interface in Debian's Chromium (playwright-core) and Firefox ESR (puppeteer-core, WebDriver BiDi) against the real server"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error && \
  CONTENTHUB_TEST_BIN="$CARGO_TARGET_DIR/debug/contenthub" node --test)
echo "screenshots of the pages: artifacts/screenshots/"
