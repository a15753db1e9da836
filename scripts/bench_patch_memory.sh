#!/usr/bin/env bash
# Memory benchmark (not a test; issue 12, scenario 6): `contenthub serve` on S3 (s3s-fs on
# loopback) takes tus PATCHes into uploads declared at 1 TiB (parts of 117 MiB), first one alone
# (the baseline), then BENCH_PATCHES (50) at once; prints serve's peak resident memory after each
# and their ratio. Each body is BENCH_MIB (130) MiB: one whole part and a rest.
#   bash scripts/bench_patch_memory.sh      (CONTENTHUB_BIN=path to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target}"
patches="${BENCH_PATCHES:-50}"
mib="${BENCH_MIB:-130}"
if [ -z "${CONTENTHUB_BIN:-}" ]; then
  bash scripts/bench_build.sh
  CONTENTHUB_BIN="$CARGO_TARGET_DIR/release/contenthub"
fi
command -v s3s-fs >/dev/null || cargo install s3s-fs@0.14.1 --features binary --locked
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/contenthub-bench.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

mkdir -p "$work/s3/bench" "$work/hub"
s3_port=$(free_port)
s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key bench --secret-key benchsecret "$work/s3" >"$work/s3.log" 2>&1 &
pids+=($!)
hub_port=$(free_port)
hub_args=(--data-dir "$work/hub" --storage-url s3://bench --s3-endpoint "http://127.0.0.1:$s3_port"
  --s3-access-key-id bench --s3-path-style true)
export CONTENTHUB_S3_SECRET_ACCESS_KEY=benchsecret CONTENTHUB_LOG=warn
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $s3_port), 1)" 2>/dev/null && break; sleep 0.2; done
"$CONTENTHUB_BIN" serve --demo --bind "127.0.0.1:$hub_port" "${hub_args[@]}" >"$work/serve.log" 2>&1 &
serve=$!
pids+=($serve)
until grep -q "contenthub is running" "$work/serve.log"; do
  kill -0 "$serve" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.2
done
token=$("$CONTENTHUB_BIN" admin create-token studio "${hub_args[@]}" 2>/dev/null)
base="http://127.0.0.1:$hub_port"
b64() { printf %s "$1" | base64 -w0; }
create() {
  curl -sS -o /dev/null -D - -X POST "$base/api/v1/uploads" -H "Authorization: Bearer $token" \
    -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $((1 << 40))" \
    -H "Upload-Metadata: project $(b64 1),bucket $(b64 music),filename $(b64 "$1")" |
    tr -d '\r' | awk 'tolower($1) == "location:" {print $2}'
}
patch() {
  curl -sS -o /dev/null -w '%{http_code}\n' -X PATCH -T "$work/body" "$base$1" \
    -H "Authorization: Bearer $token" -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: 0" \
    -H "Content-Type: application/offset+octet-stream"
}
peak_mib() { awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/$serve/status"; }
rss_mib() { awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$serve/status"; }

head -c "$((mib << 20))" /dev/urandom >"$work/body"
idle=$(rss_mib)
one=$(create "alone.wav")
start=$(date +%s.%N)
[ "$(patch "$one")" = 204 ] || { echo "the single PATCH failed"; tail "$work/serve.log"; exit 1; }
single_s=$(python3 -c "import time; print(f'{time.time() - $start:.2f}')")
single=$(peak_mib)

locations=()
for n in $(seq "$patches"); do locations+=("$(create "many$n.wav")"); done
start=$(date +%s.%N)
sending=()
for location in "${locations[@]}"; do
  patch "$location" >"$work/code.$(basename "$location")" &
  sending+=($!)
done
wait "${sending[@]}" || true
many_s=$(python3 -c "import time; print(f'{time.time() - $start:.2f}')")
many=$(peak_mib)
ok=$(cat "$work"/code.* | grep -c '^204$' || true)
[ "$ok" = "$patches" ] || { echo "only $ok of $patches PATCHes were accepted"; tail "$work/serve.log"; exit 1; }

python3 - "$idle" "$single" "$single_s" "$many" "$many_s" "$patches" "$mib" <<'EOF'
import sys
idle, single, single_s, many, many_s, patches, mib = sys.argv[1:]
idle, single, many, patches, mib = int(idle), int(single), int(many), int(patches), int(mib)
part = -(-(1 << 40) // 9000 // (1 << 20))  # MiB, as the hub sizes parts for 1 TiB
print(f"serve on S3, uploads declared at 1 TiB (parts of {part} MiB), bodies of {mib} MiB")
print(f"  idle                     {idle:5d} MiB resident")
print(f"  1 PATCH                  {single:5d} MiB peak   ({single_s} s, {mib / float(single_s):.0f} MiB/s)")
print(f"  {patches} PATCHes at once      {many:5d} MiB peak   ({many_s} s, {patches * mib / float(many_s):.0f} MiB/s)")
print(f"  peak with {patches} / with 1:    {many / single:.2f}x   (holding a part per PATCH would be {patches * part} MiB)")
print(f"  under 512 MiB: {'yes' if many < 512 else 'NO'}")
EOF
