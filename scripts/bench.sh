#!/usr/bin/env bash
# End-to-end upload and download of one large file over loopback with curl:
# chunks in random order from several parallel loops, then complete, then a
# full download and a CDN-style slice fetch, each compared byte for byte.
# Prints wall times, throughput and the server's peak memory.
#
#   scripts/bench.sh [SIZE_MIB=1024] [CHUNK_MIB=8] [LOOPS=4]
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib="${1:-1024}"
chunk_mib="${2:-8}"
loops="${3:-4}"
chunk=$(( chunk_mib << 20 ))

cargo build --release --quiet --bin ferryd
work="$(mktemp -d /tmp/ferry-bench.XXXXXX)"
port=$(( 20000 + RANDOM % 20000 ))
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

FERRY_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/ferry.db" FERRY_STORE="$work/objects" \
  RUST_LOG=warn target/release/ferryd &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.05; done

head -c "$(( size_mib << 20 ))" /dev/urandom > "$work/file"
sha=$(sha256sum "$work/file" | cut -d' ' -f1)
size=$(stat -c %s "$work/file")
count=$(( (size + chunk - 1) / chunk ))

elapsed() { echo "$(( ($(date +%s%N) - $1) / 1000000 ))"; }
rate() { awk -v bytes="$size" -v ms="$1" 'BEGIN { printf "%.0f", bytes / 1048576 / (ms / 1000) }'; }

curl -sf -X POST "$base/v1/uploads" -H 'Content-Type: application/json' \
  -d "{\"sha256\":\"$sha\",\"size\":$size,\"chunk_size\":$chunk}" >/dev/null

seq 0 $(( count - 1 )) | shuf > "$work/order"
split -n "r/$loops" "$work/order" "$work/loop."
start=$(date +%s%N)
senders=()
for list in "$work"/loop.*; do
  (
    while read -r index; do
      dd if="$work/file" bs="$chunk" skip="$index" count=1 status=none |
        curl -sf -X PUT --data-binary @- "$base/v1/uploads/$sha/chunks/$index" >/dev/null
    done < "$list"
  ) &
  senders+=("$!")
done
for sender in "${senders[@]}"; do wait "$sender"; done
upload_ms=$(elapsed "$start")

start=$(date +%s%N)
status=$(curl -s -o "$work/complete.json" -w '%{http_code}' -X POST "$base/v1/uploads/$sha/complete")
while [ "$status" = 202 ]; do
  status=$(curl -s -o "$work/complete.json" -w '%{http_code}' -X POST "$base/v1/uploads/$sha/complete")
done
complete_ms=$(elapsed "$start")
[ "$status" = 200 ] || { echo "complete answered $status: $(cat "$work/complete.json")"; exit 1; }

start=$(date +%s%N)
curl -sf -o "$work/copy" "$base/v1/files/$sha"
download_ms=$(elapsed "$start")
cmp "$work/file" "$work/copy"
rm "$work/copy"

start=$(date +%s%N)
slice=$(( 1 << 20 ))
for (( offset = 0; offset < size; offset += slice )); do
  curl -sf -H "Range: bytes=$offset-$(( offset + slice - 1 ))" "$base/v1/files/$sha"
done > "$work/slices"
slices_ms=$(elapsed "$start")
cmp "$work/file" "$work/slices"

peak_kib=$(awk '/VmHWM/ { print $2 }' "/proc/$server/status")
echo "file: ${size_mib} MiB in $count chunks of ${chunk_mib} MiB, $loops parallel curl loops, random order"
echo "upload chunks:  ${upload_ms} ms ($(rate "$upload_ms") MiB/s)"
echo "complete:       ${complete_ms} ms (merge + verify, $(rate "$complete_ms") MiB/s)"
echo "download:       ${download_ms} ms ($(rate "$download_ms") MiB/s), byte-identical"
echo "1 MiB slices:   ${slices_ms} ms ($(rate "$slices_ms") MiB/s), byte-identical"
echo "server peak RSS: $(( peak_kib / 1024 )) MiB"
