#!/usr/bin/env bash
# A rush of uploaders against one ferryd on PostgreSQL: steps of 50, 200 and
# 1,000 owners at once (their own HS256 tokens), each uploading a 4 MiB file
# in 512 KiB chunks, 3 in flight in index order, then `complete`; on a local
# folder, then the 1,000 owners on a bucket. Each step runs on a fresh
# database, store and ferryd (defaults but the token secret and no limit of
# connections per address, every client being on loopback). Prints one
# table and writes it into BENCHMARKS.md.
#
#   scripts/bench.sh load
#
# The load client is benches/load (ferry-load), built with --release.
# PostgreSQL is taken from DATABASE_URL (default: the local server on
# 127.0.0.1:5432); a database ferry_load is created and dropped there. The
# bucket is served by s3s-fs, built from crates.io into target/bench-tools
# as scripts/bench.sh's bucket rows build it. FERRY_LOAD_STEPS replaces the
# folder steps (for a shorter run: FERRY_LOAD_STEPS="50 200"),
# FERRY_LOAD_SETTLE the 60 s waited before the last memory sample.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
target="${CARGO_TARGET_DIR:-$root/target}"
pg_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
steps="${FERRY_LOAD_STEPS:-50 200 1000}"
settle="${FERRY_LOAD_SETTLE:-60}"
secret="ferry-load: a secret of at least thirty-two bytes"
export PGOPTIONS="--client-min-messages=warning"

say() { echo "bench load: $*" >&2; }

say "building ferryd and ferry-load (release)"
cargo build --release --locked --quiet --bin ferryd
cargo build --release --locked --quiet -p ferry-load
ferryd="$target/release/ferryd"
load="$target/release/ferry-load"

work="$(mktemp -d /tmp/ferry-load.XXXXXX)"
pids=()
cleanup() {
  for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$pg_url" -c "DROP DATABASE IF EXISTS ferry_load WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 600); do curl -s -o /dev/null "$1" && return; sleep 0.05; done; say "$1 never answered"; exit 1; }

# The bucket rows use the S3 server of scripts/bench.sh's bucket rows.
tools="$root/target/bench-tools"
source scripts/bench/s3.sh
s3_server=""

# Starts a ferryd on a fresh database and STORE ("folder" or "bucket");
# prints "PID PORT".
start_ferryd() {
  local store="$1" dir port
  dir="$(mktemp -d "$work/ferryd.XXXXXX")"
  port="$(free_port)"
  psql -q "$pg_url" -c "DROP DATABASE IF EXISTS ferry_load WITH (FORCE)" -c "CREATE DATABASE ferry_load" >/dev/null
  local settings=(FERRY_STORE="$dir/objects")
  if [ "$store" = bucket ]; then
    settings=(FERRY_STORE="s3://$s3_bucket/$(basename "$dir")" FERRY_S3_ENDPOINT="$s3_endpoint"
      FERRY_S3_REGION=us-east-1 FERRY_S3_ACCESS_KEY_ID="$s3_key" FERRY_S3_SECRET_ACCESS_KEY="$s3_secret")
  fi
  env FERRY_BIND="127.0.0.1:$port" DATABASE_URL="${pg_url%/*}/ferry_load" "${settings[@]}" \
    FERRY_JWT_SECRET="$secret" FERRY_MAX_CONNECTIONS_PER_ADDRESS=0 RUST_LOG=warn \
    "$ferryd" >"$dir/log" 2>&1 &
  echo "$! $port"
}

# Runs OWNERS against a fresh ferryd on STORE; prints ferry-load's line and
# the load average.
run_step() {
  local owners="$1" store="$2" pid port line
  read -r pid port < <(start_ferryd "$store")
  pids+=("$pid")
  wait_for "http://127.0.0.1:$port/healthz"
  sleep 2
  line=$("$load" --server "http://127.0.0.1:$port" --owners "$owners" --pid "$pid" \
    --settle "$settle" --jwt-secret "$secret" --seed "$RANDOM")
  echo "$line loadavg=$(cut -d' ' -f1 /proc/loadavg)"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }
verdict() { if [ "$1" = 1 ]; then echo met; else echo missed; fi; }

declare -A lines
for owners in $steps; do
  say "$owners owners on PostgreSQL and a folder"
  lines[folder_$owners]=$(run_step "$owners" folder)
  say "${lines[folder_$owners]}"
done
install_s3s
start_s3s
s3_server="s3s-fs $("$tools/bin/s3s-fs" --version 2>/dev/null | awk '{ print $NF }')"
say "1000 owners on PostgreSQL and a bucket ($s3_server)"
lines[bucket_1000]=$(run_step 1000 bucket)
say "${lines[bucket_1000]}"

best=0
for owners in $steps; do
  best=$(awk -v a="$best" -v b="$(field "${lines[folder_$owners]}" mib_s)" 'BEGIN { print (b > a) ? b : a }')
done
rows=()
for key in $(for owners in $steps; do echo "folder_$owners"; done) bucket_1000; do
  line="${lines[$key]}"
  store="${key%_*}"
  owners="${key#*_}"
  rss_cap=$([ "$store" = bucket ] && echo 500 || echo 300)
  mib_s=$(field "$line" mib_s) p99=$(field "$line" p99_ms) base=$(field "$line" rss_base_mib)
  peak=$(field "$line" rss_peak_mib) after=$(field "$line" rss_after_mib) waits=$(field "$line" pool_waits_over_100ms)
  reread=$(field "$line" reread_pct)
  checks=(
    "$(le "$p99" 2000)" "$(le "$waits" 0)" "$(le "$peak" "$rss_cap")"
    "$(le "$after" "$(awk -v b="$base" 'BEGIN { print b * 1.2 }')")" "$(le "$reread" 10)"
  )
  if [ "$store" = folder ] && [ "$owners" = 1000 ]; then
    checks+=("$(le "$(awk -v b="$best" 'BEGIN { print b * 0.9 }')" "$mib_s")")
  fi
  met=1
  for check in "${checks[@]}"; do [ "$check" = 1 ] || met=0; done
  rows+=("| $owners | $([ "$store" = bucket ] && echo "bucket ($s3_server)" || echo folder) | $mib_s | $p99 ms | $(field "$line" upload_p50_s) s | $base / $peak / $after MiB | $waits (worst ≤ $(field "$line" pool_wait_worst_ms) ms) | $reread% ($(field "$line" link_reread_mib) + $(field "$line" merge_reread_mib) of $(field "$line" received_mib) MiB) | $(field "$line" refused) of $(field "$line" requests) | $(field "$line" failed) | $(field "$line" loadavg) | $(verdict "$met") |")
done

{
  echo "<!-- scripts/bench.sh load: begin -->"
  echo "## A rush of uploaders (\`scripts/bench.sh load\`)"
  echo
  echo "Run on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src proto cli benches Cargo.lock || echo ' with changes'): $(nproc) cores, shared, release build,"
  echo "one ferryd (defaults: 16 database connections, 256 MiB body buffers, 64 MiB hash window) on PostgreSQL."
  echo "Each owner (its own token) uploads a 4 MiB file in 512 KiB chunks, 3 in flight in index order, then completes it;"
  echo "all owners start at once. A 503 with \`Retry-After\` is sent again after it, counted in the requests."
  echo "RSS of ferryd before the load, at its peak (sampled every 100 ms) and ${settle} s after it."
  echo "Targets: p99 ≤ 2 s, no database-pool wait over 100 ms, RSS ≤ 300 MiB during (500 MiB on a bucket) and within 20% of"
  echo "its baseline after, bytes read back ≤ 10% of those received; at 1,000 owners on a folder, throughput ≥ 90% of the best step's."
  echo
  echo "| owners | store | MiB/s | p99 | upload p50 | RSS before / peak / after | pool waits > 100 ms | read back / received | 503s of requests | failed | load average | targets |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  echo "<!-- scripts/bench.sh load: end -->"
} > "$work/report.md"
cat "$work/report.md"
python3 scripts/bench/write_section.py "scripts/bench.sh load" "$work/report.md"
say "written into BENCHMARKS.md"
