#!/usr/bin/env bash
# The merge of one large file on a local folder and on an S3 bucket, side by
# side in one run: the same random file uploaded in chunks with curl, then
# complete (merge + verification) timed, the download compared byte for
# byte, and the server's peak memory read from /proc. The bucket is served
# by moto's S3 server on loopback (installed from PyPI into
# target/test-tools/s3 when missing, as scripts/test.sh does).
#
#   scripts/bench-merge.sh [SIZE_MIB=1024] [CHUNK_MIB=1]
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib="${1:-1024}"
chunk_mib="${2:-1}"
chunk=$(( chunk_mib << 20 ))
tools=target/test-tools/s3

cargo build --release --quiet --bin ferryd
if [ ! -x "$tools/bin/moto_server" ]; then
  echo "installing moto's S3 server (PyPI) into $tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
fi

work="$(mktemp -d /tmp/ferry-bench-merge.XXXXXX)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

s3_port=$(free_port)
"$tools/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >/dev/null 2>&1 &
pids+=("$!")
for _ in $(seq 200); do curl -s "http://127.0.0.1:$s3_port/" >/dev/null && break; sleep 0.05; done
curl -sf -X PUT "http://127.0.0.1:$s3_port/bench" >/dev/null

head -c "$(( size_mib << 20 ))" /dev/urandom > "$work/file"
sha=$(sha256sum "$work/file" | cut -d' ' -f1)
size=$(stat -c %s "$work/file")
count=$(( (size + chunk - 1) / chunk ))
split -b "$chunk" -a 6 -d "$work/file" "$work/chunk."

elapsed() { echo "$(( ($(date +%s%N) - $1) / 1000000 ))"; }
rate() { awk -v bytes="$size" -v ms="$1" 'BEGIN { printf "%.0f", bytes / 1048576 / (ms / 1000) }'; }

# run NAME STORE [ENV...]: one server over STORE, the whole file through it.
run() {
  local name=$1 store=$2
  shift 2
  local port base server start upload_ms complete_ms status
  port=$(free_port)
  env FERRY_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/$name.db" FERRY_STORE="$store" \
    FERRY_MIN_CHUNK_SIZE=64KiB FERRY_MERGE_WAIT=1h RUST_LOG=error "$@" target/release/ferryd 2>>"$work/servers.log" &
  server=$!
  pids+=("$server")
  base="http://127.0.0.1:$port"
  for _ in $(seq 200); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.05; done
  curl -sf -X POST "$base/v1/uploads" -H 'Content-Type: application/json' \
    -d "{\"sha256\":\"$sha\",\"size\":$size,\"chunk_size\":$chunk}" >/dev/null
  start=$(date +%s%N)
  seq 0 $(( count - 1 )) | xargs -P 4 -I{} sh -c \
    'curl -sf -X PUT --data-binary @"$1/chunk.$(printf %06d "$2")" "$3/v1/uploads/$4/chunks/$2" >/dev/null' \
    _ "$work" {} "$base" "$sha"
  upload_ms=$(elapsed "$start")
  start=$(date +%s%N)
  status=$(curl -s -o "$work/complete.json" -w '%{http_code}' -X POST "$base/v1/uploads/$sha/complete")
  complete_ms=$(elapsed "$start")
  [ "$status" = 200 ] || { echo "$name: complete answered $status: $(cat "$work/complete.json")"; exit 1; }
  curl -sf "$base/v1/files/$sha" | cmp - "$work/file"
  local peak_kib
  peak_kib=$(awk '/VmHWM/ { print $2 }' "/proc/$server/status")
  printf '| %s | %s ms (%s MiB/s) | %s ms (%s MiB/s) | %s MiB |\n' "$name" \
    "$upload_ms" "$(rate "$upload_ms")" "$complete_ms" "$(rate "$complete_ms")" "$(( peak_kib / 1024 ))"
  kill "$server"
  wait "$server" 2>/dev/null || true
}

echo "file: ${size_mib} MiB in $count chunks of ${chunk_mib} MiB, 4 parallel curl senders; $(nproc) cores"
echo
echo "| store | upload chunks | complete (merge + verify) | server peak RSS |"
echo "| --- | --- | --- | --- |"
run "local disk" "$work/objects"
run "S3 (moto on loopback)" "s3://bench/ferry" \
  FERRY_S3_ENDPOINT="http://127.0.0.1:$s3_port" FERRY_S3_REGION=us-east-1 \
  FERRY_S3_ACCESS_KEY_ID=bench FERRY_S3_SECRET_ACCESS_KEY=bench-secret
