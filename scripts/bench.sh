#!/usr/bin/env bash
# ferry against its peers on this machine, every figure in one run so that
# the ratios hold on a noisy machine: nginx for downloads, a bare tus server
# (@tus/server with its file store) for uploads, the same tus server and
# ferry's /v1/tus both reached by tus-js-client, and the floor of one
# read + SHA-256 + write + fsync pass. Each figure is the median of REPEATS
# runs. Prints one table and writes it into BENCHMARKS.md.
#
#   scripts/bench.sh [--quick] [--s3-only]
#   scripts/bench.sh load      (a rush of uploaders alone: scripts/bench/load.sh)
#
# --s3-only runs the bucket rows alone (scripts/bench/s3.sh) and prints
# them without touching BENCHMARKS.md.
#
# Installs what it needs when missing, saying so: nginx and wrk from the
# system's packages (and ApacheBench, which sends HEAD requests, as wrk
# cannot), @tus/server and @tus/file-store from the npm registry
# (into target/bench-tools), and for the bucket rows rclone from the
# system's packages and s3s-fs from crates.io (cargo install into
# target/bench-tools). PostgreSQL is taken from DATABASE_URL (default:
# the local server on 127.0.0.1:5432); a database ferry_bench is created and
# dropped there.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
[ "${1:-}" = load ] && exec scripts/bench/load.sh "${@:2}"

quick=0 s3_only=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --s3-only) s3_only=1 ;;
    *) echo "usage: scripts/bench.sh [--quick] [--s3-only]" >&2; exit 2 ;;
  esac
done
if [ "$quick" = 1 ]; then
  size_mib=128 repeats=3 wrk_seconds=3 small_files=200
else
  size_mib=1024 repeats=3 wrk_seconds=8 small_files=800
fi
pg_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export PGOPTIONS="--client-min-messages=warning"

say() { echo "bench: $*" >&2; }

tools="$root/target/bench-tools"
install_system_tools() {
  local missing=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v ab >/dev/null || missing+=(apache2-utils)
  command -v psql >/dev/null || missing+=(postgresql-client)
  [ ${#missing[@]} = 0 ] && return
  say "installing ${missing[*]} from the system's packages"
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get -o DPkg::Lock::Timeout=600 update >/dev/null &&
      apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >/dev/null; }
}
install_tus() {
  [ -d "$tools/tus/node_modules/@tus/file-store" ] && return
  say "installing @tus/server and @tus/file-store from the npm registry into $tools/tus"
  mkdir -p "$tools/tus"
  npm install --silent --no-audit --no-fund --prefix "$tools/tus" @tus/server@2 @tus/file-store@2 >/dev/null
}
install_client() {
  [ -d clients/js/node_modules/tus-js-client ] && return
  say "installing clients/js's devDependencies (tus-js-client) from the npm registry"
  (cd clients/js && npm ci --no-audit --no-fund --loglevel=error)
}
if [ "$s3_only" = 0 ]; then
  install_system_tools
  install_tus
  install_client
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

say "building ferryd and ferry (release)"
cargo build --release --locked --quiet --bin ferryd && cargo build --release --locked --quiet -p ferry-cli --bin ferry
ferryd="$root/target/release/ferryd"
ferry="$root/target/release/ferry"

work="$(mktemp -d /tmp/ferry-bench.XXXXXX)"
chmod 755 "$work"
pids=()
cleanup() {
  for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$pg_url" -c "DROP DATABASE IF EXISTS ferry_bench WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 200); do curl -s -o /dev/null "$1" && return; sleep 0.05; done; say "$1 never answered"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt() { awk -v v="$1" -v d="${2:-2}" 'BEGIN { printf "%.*f", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { if [ "$1" = 1 ]; then echo met; else echo missed; fi; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? 1 : 0 }'; }
both() { if [ "$1" = 1 ] && [ "$2" = 1 ]; then echo 1; else echo 0; fi; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
rows=()
row() { rows+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 |"); }

# Starts a ferryd on a fresh database and store; prints "PID PORT".
# DATABASE is "sqlite" or "postgres" (a fresh ferry_bench database).
start_ferryd() {
  local database="$1" dir port url
  shift
  dir="$(mktemp -d "$work/ferryd.XXXXXX")"
  port="$(free_port)"
  if [ "$database" = postgres ]; then
    psql -q "$pg_url" -c "DROP DATABASE IF EXISTS ferry_bench WITH (FORCE)" -c "CREATE DATABASE ferry_bench" >/dev/null
    url="${pg_url%/*}/ferry_bench"
  else
    url="sqlite://$dir/ferry.db"
  fi
  env FERRY_BIND="127.0.0.1:$port" DATABASE_URL="$url" FERRY_STORE="$dir/objects" \
    FERRY_OWNER_RATE=1000000 FERRY_OWNER_MAX_SESSIONS=100000 RUST_LOG=warn "$@" \
    "$ferryd" > "$dir/log" 2>&1 &
  echo "$! $port"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# Uploads $file to the ferryd at BASE in chunks of CHUNK bytes, four at
# once, then prints how many milliseconds `complete` took until it
# answered 200.
complete_ms() {
  local base=$1 chunk=$2 t status
  curl -sf -X POST "$base/v1/uploads" -H 'Content-Type: application/json' \
    -d "{\"sha256\":\"$sha\",\"size\":$size,\"chunk_size\":$chunk}" > /dev/null
  seq 0 $(( (size + chunk - 1) / chunk - 1 )) | xargs -P 4 -I{} sh -c \
    "dd if='$file' bs=$chunk skip={} count=1 status=none | curl -sf -o /dev/null -X PUT --data-binary @- '$base/v1/uploads/$sha/chunks/{}'"
  t=$(now_ms)
  status=$(curl -s -o "$work/complete.json" -w '%{http_code}' -X POST "$base/v1/uploads/$sha/complete")
  while [ "$status" = 202 ]; do
    status=$(curl -s -o "$work/complete.json" -w '%{http_code}' -X POST "$base/v1/uploads/$sha/complete")
  done
  [ "$status" = 200 ] || { say "complete answered $status: $(cat "$work/complete.json")"; return 1; }
  echo $(( $(now_ms) - t ))
}

# wrk's requests per second and p99 (ms) as "RPS P99".
wrk_figures() {
  wrk --latency -t2 -c"$1" -d"${wrk_seconds}s" "${@:2}" | awk '
    /Requests\/sec/ { rps = $2 }
    /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } p99 = v }
    / Non-2xx/ { bad = $0 }
    END { if (bad) { print "wrk: " bad > "/dev/stderr"; exit 1 } print rps, p99 }'
}

# ApacheBench's requests per second and p99 (ms) as "RPS P99"; ab_figures
# CONNECTIONS URL [-i for HEAD].
ab_figures() {
  ab -k -q -c "$1" -t "$wrk_seconds" -n 10000000 "${@:3}" "$2" 2>&1 | awk '
    /^Requests per second/ { rps = $4 }
    /^ +99%/ { p99 = $2 }
    /^(Failed requests|Non-2xx responses):/ && $3 != 0 { bad = $0 }
    END { if (bad || !rps) { print "ab: " (bad ? bad : "no figures") > "/dev/stderr"; exit 1 } print rps, p99 }'
}

say "writing a ${size_mib} MiB random file"
file="$work/file.bin"
head -c "$(( size_mib << 20 ))" /dev/urandom > "$file"
size=$(stat -c %s "$file")
sha=$(sha256sum "$file" | cut -d' ' -f1)
mib() { awk -v ms="$1" -v bytes="$size" 'BEGIN { printf "%.0f", bytes / 1048576 / (ms / 1000) }'; }

declare -A fig

# The median time (ms) of five whole GETs of URL, with curl's ARGS.
get_ms() {
  local runs=() t
  for _ in $(seq 5); do
    t=$(now_ms)
    curl -sf -o /dev/null "$@" || { say "GET $1 failed"; return 1; }
    runs+=($(( $(now_ms) - t )))
  done
  printf '%s\n' "${runs[@]}" | median
}

source scripts/bench/s3.sh
if [ "$s3_only" = 1 ]; then
  bench_s3
  s3_rows
  echo "| # | figure | peer | ferry | ratio | target | |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  exit 0
fi

say "floor: one pass of read + SHA-256 + write + fsync"
runs=()
for _ in $(seq "$repeats"); do
  rm -f "$work/floor.out"; sync
  t=$(now_ms)
  tee "$work/floor.out" < "$file" | sha256sum > /dev/null
  sync "$work/floor.out"
  runs+=($(( $(now_ms) - t )))
done
fig[floor]=$(printf '%s\n' "${runs[@]}" | median)
rm -f "$work/floor.out"

say "upload: @tus/server, 8 MiB PATCHes"
tus_port="$(free_port)"
mkdir -p "$work/tus"
cp scripts/bench/tus-server.mjs "$tools/tus/"
node "$tools/tus/tus-server.mjs" "$tus_port" "$work/tus" &
pids+=($!)
wait_for "http://127.0.0.1:$tus_port/files"
runs=()
for _ in $(seq "$repeats"); do
  t=$(now_ms)
  node "$root/scripts/bench/tus-upload.mjs" "http://127.0.0.1:$tus_port" "$file" 8
  runs+=($(( $(now_ms) - t )))
  rm -rf "$work/tus"/*
done
fig[tus_upload]=$(printf '%s\n' "${runs[@]}" | median)

say "upload: tus-js-client to @tus/server and to ferry's /v1/tus, 8 MiB PATCHes"
runs=()
for _ in $(seq "$repeats"); do
  t=$(now_ms)
  node "$root/scripts/bench/tus-js-upload.mjs" "http://127.0.0.1:$tus_port/files" "$file" 8
  runs+=($(( $(now_ms) - t )))
  rm -rf "$work/tus"/*
done
fig[tusjs_tus]=$(printf '%s\n' "${runs[@]}" | median)
runs=()
for _ in $(seq "$repeats"); do
  read -r pid port < <(start_ferryd sqlite)
  wait_for "http://127.0.0.1:$port/healthz"
  t=$(now_ms)
  node "$root/scripts/bench/tus-js-upload.mjs" "http://127.0.0.1:$port/v1/tus" "$file" 8
  runs+=($(( $(now_ms) - t )))
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/files/$sha")" = 200 ] ||
    { say "ferry did not publish the tus upload"; exit 1; }
  stop "$pid"
done
fig[tusjs_ferry]=$(printf '%s\n' "${runs[@]}" | median)

for database in sqlite postgres; do
  say "upload: ferry upload on $database (8 MiB chunks, 4 in flight)"
  runs=()
  for _ in $(seq "$repeats"); do
    read -r pid port < <(start_ferryd "$database")
    wait_for "http://127.0.0.1:$port/healthz"
    t=$(now_ms)
    "$ferry" --server "http://127.0.0.1:$port" upload --json --chunk-size 8MiB --parallel 4 "$file" > /dev/null
    runs+=($(( $(now_ms) - t )))
    stop "$pid"
  done
  fig[ferry_upload_$database]=$(printf '%s\n' "${runs[@]}" | median)
done

say "complete of a fully uploaded file"
read -r pid port < <(start_ferryd sqlite)
pids+=("$pid")
base="http://127.0.0.1:$port"
wait_for "$base/healthz"
chunk=$(( 8 << 20 ))
runs=()
for attempt in $(seq "$repeats"); do
  ms=$(complete_ms "$base" "$chunk") || exit 1
  runs+=("$ms")
  if [ "$attempt" -lt "$repeats" ]; then
    stop "$pid"
    read -r pid port < <(start_ferryd sqlite)
    pids+=("$pid")
    base="http://127.0.0.1:$port"
    wait_for "$base/healthz"
  fi
done
fig[complete]=$(printf '%s\n' "${runs[@]}" | median)
ferry_base="$base"
ferry_pid="$pid"

say "downloads: nginx and ferry"
nginx_port="$(free_port)"
mkdir -p "$work/nginx/www"
ln "$file" "$work/nginx/www/file.bin"
cat > "$work/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/nginx/www;
  }
}
EOF
"$nginx_bin" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx_url="http://127.0.0.1:$nginx_port/file.bin"
ferry_url="$ferry_base/v1/files/$sha"
wait_for "$nginx_url"
fig[get_nginx]=$(get_ms "$nginx_url") || exit 1
fig[get_ferry]=$(get_ms "$ferry_url") || exit 1

say "random 64 KiB ranges, 32 connections"
read -r fig[range_nginx_rps] fig[range_nginx_p99] < <(wrk_figures 32 -s scripts/bench/range.lua "$nginx_url" -- "$size")
read -r fig[range_ferry_rps] fig[range_ferry_p99] < <(wrk_figures 32 -s scripts/bench/range.lua "$ferry_url" -- "$size")

say "HEAD of a file and progress of an upload"
read -r fig[head_rps] _ < <(ab_figures 32 "$ferry_url" -i)
read -r fig[progress_rps] _ < <(ab_figures 32 "$ferry_base/v1/uploads/$sha")

say "many small files: 16 clients, 256 KiB each"
rm -rf "$work/tus"/*
fig[small_tus]=$(node "$root/scripts/bench/small-files.mjs" tus "http://127.0.0.1:$tus_port" "$small_files" 256 16)
fig[small_ferry]=$(node "$root/scripts/bench/small-files.mjs" ferry "$ferry_base" "$small_files" 256 16)

# The highest resident memory (MiB) of process PID while the jobs named run.
peak_rss_mib() {
  local pid="$1" peak=0 rss
  shift
  while kill -0 "$@" 2>/dev/null; do
    rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.05
  done
  echo $(( peak / 1024 ))
}

say "memory: 64 clients each PUT an 8 MiB chunk at once"
read -r pid port < <(start_ferryd sqlite)
pids+=("$pid")
base="http://127.0.0.1:$port"
wait_for "$base/healthz"
head -c "$(( 64 * chunk ))" /dev/urandom > "$work/wide.bin"
wide_sha=$(sha256sum "$work/wide.bin" | cut -d' ' -f1)
curl -sf -o /dev/null -X POST "$base/v1/uploads" -H 'Content-Type: application/json' \
  -d "{\"sha256\":\"$wide_sha\",\"size\":$(( 64 * chunk )),\"chunk_size\":$chunk}"
split -b "$chunk" -d -a 2 "$work/wide.bin" "$work/wide."
clients=()
for index in $(seq 0 63); do
  curl -sf -o /dev/null -X PUT --data-binary @"$work/wide.$(printf %02d "$index")" \
    "$base/v1/uploads/$wide_sha/chunks/$index" &
  clients+=($!)
done
fig[rss_chunks]=$(peak_rss_mib "$pid" "${clients[@]}")
for client in "${clients[@]}"; do wait "$client"; done
rm -f "$work"/wide.*

say "memory: 64 slow clients each download the ${size_mib} MiB file"
clients=()
for _ in $(seq 64); do
  curl -s -o /dev/null --limit-rate 2M --max-time 5 "$ferry_url" &
  clients+=($!)
done
fig[rss_slow]=$(peak_rss_mib "$ferry_pid" "${clients[@]}")
for client in "${clients[@]}"; do wait "$client" || true; done

say "progress of a 10,000-chunk session with every other chunk received"
read -r pid port < <(start_ferryd sqlite FERRY_MIN_CHUNK_SIZE=1KiB)
pids+=("$pid")
base="http://127.0.0.1:$port"
wait_for "$base/healthz"
sparse=$(node scripts/bench/sparse-session.mjs "$base" 10000 1024 8)
read -r fig[sparse_rps] fig[sparse_p99] < <(wrk_figures 4 "$base/v1/uploads/$sparse")

bench_s3

floor=${fig[floor]} tus=${fig[tus_upload]}
row 0 "floor: read + SHA-256 + write + fsync, one pass" "$(secs "$floor") s" "" "" "" ""
for database in sqlite postgres; do
  up=${fig[ferry_upload_$database]}
  label=$([ "$database" = sqlite ] && echo "1a" || echo "1b")
  row "$label" "upload ${size_mib} MiB on $database: \`ferry upload\` (hash, 8 MiB chunks, 4 in flight, merge, verify) against bare tus ingest (8 MiB PATCHes)" \
    "@tus/server $(secs "$tus") s" "$(secs "$up") s" "$(ratio "$up" "$tus")× tus, $(ratio "$up" "$floor")× floor" \
    "≤ 1× tus, ≤ 2× floor" "$(verdict "$(both "$(le "$up" "$tus")" "$(le "$up" "$(( 2 * floor ))")")")"
done
row 2 "\`complete\` of a fully uploaded ${size_mib} MiB file" "" "$(secs "${fig[complete]}") s" "" "< 1 s" "$(verdict "$(le "${fig[complete]}" 999)")"
get_ratio=$(ratio "${fig[get_nginx]}" "${fig[get_ferry]}")
row 3 "whole-file GET, ${size_mib} MiB" "nginx $(mib "${fig[get_nginx]}") MiB/s" "$(mib "${fig[get_ferry]}") MiB/s" "${get_ratio}×" "≥ 0.9×" "$(verdict "$(ge "$get_ratio" 0.9)")"
rps_ratio=$(ratio "${fig[range_ferry_rps]}" "${fig[range_nginx_rps]}")
p99_ratio=$(ratio "${fig[range_ferry_p99]}" "${fig[range_nginx_p99]}")
row 4a "random 64 KiB ranges, 32 connections: requests/s" "nginx $(fmt "${fig[range_nginx_rps]}" 0)" "$(fmt "${fig[range_ferry_rps]}" 0)" "${rps_ratio}×" "≥ 0.6×" "$(verdict "$(ge "$rps_ratio" 0.6)")"
row 4b "the same: p99 latency" "nginx ${fig[range_nginx_p99]} ms" "${fig[range_ferry_p99]} ms" "${p99_ratio}×" "≤ 2×" "$(verdict "$(le "$p99_ratio" 2)")"
row 5a "\`HEAD /v1/files/{sha256}\`, 32 connections (ApacheBench)" "" "$(fmt "${fig[head_rps]}" 0) req/s" "" "≥ 20,000" "$(verdict "$(ge "${fig[head_rps]}" 20000)")"
row 5b "\`GET /v1/uploads/{sha256}\` of a complete upload, 32 connections (ApacheBench)" "" "$(fmt "${fig[progress_rps]}" 0) req/s" "" "≥ 20,000" "$(verdict "$(ge "${fig[progress_rps]}" 20000)")"
row 6 "256 KiB files, 16 clients (tus: creation-with-upload; ferry: one-request upload)" "@tus/server ${fig[small_tus]} files/s" "${fig[small_ferry]} files/s" "$(ratio "${fig[small_ferry]}" "${fig[small_tus]}")×" "≥ 1×" "$(verdict "$(ge "${fig[small_ferry]}" "${fig[small_tus]}")")"
row 7a "peak RSS while 64 clients each PUT an 8 MiB chunk at once" "" "${fig[rss_chunks]} MiB" "" "≤ 100 MiB" "$(verdict "$(le "${fig[rss_chunks]}" 100)")"
row 7b "peak RSS while 64 slow clients each download the file" "" "${fig[rss_slow]} MiB" "" "≤ 100 MiB" "$(verdict "$(le "${fig[rss_slow]}" 100)")"
row 8 "progress of a 10,000-chunk session, every other chunk received, 4 connections: p99" "" "${fig[sparse_p99]} ms ($(fmt "${fig[sparse_rps]}" 0) req/s)" "" "≤ 5 ms" "$(verdict "$(le "${fig[sparse_p99]}" 5)")"
s3_rows

row 12 "upload ${size_mib} MiB with tus-js-client (8 MiB PATCHes): ferry's \`/v1/tus\` (hash, fsync, publish) against bare tus ingest" \
  "@tus/server $(secs "${fig[tusjs_tus]}") s" "$(secs "${fig[tusjs_ferry]}") s" "$(ratio "${fig[tusjs_ferry]}" "${fig[tusjs_tus]}")×" \
  "≤ 1×" "$(verdict "$(le "${fig[tusjs_ferry]}" "${fig[tusjs_tus]}")")"

mode=$([ "$quick" = 1 ] && echo " --quick" || true)
{
  echo "<!-- scripts/bench.sh: begin -->"
  echo "## ferry against nginx and a bare tus server (\`scripts/bench.sh$mode\`)"
  echo
  echo "Run on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src proto cli Cargo.lock || echo ' with changes'): $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)),"
  echo "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), loopback, release build, ferry on SQLite and a local"
  echo "folder unless the row says otherwise; $("$nginx_bin" -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }'),"
  echo "@tus/server $(node -p "require('$tools/tus/node_modules/@tus/server/package.json').version") with @tus/file-store on Node $(node -v)."
  echo "Rows 9 to 11: a bucket on s3s-fs $("$tools/bin/s3s-fs" --version 2>/dev/null | awk '{ print $NF }') over a local folder on loopback, $(rclone version 2>/dev/null | awk 'NR == 1 { print $1, $2 }')."
  echo "Every figure is the median of $repeats runs (whole GETs: of 5; wrk: ${wrk_seconds} s runs), all in one run."
  echo
  echo "| # | figure | peer | ferry | ratio | target | |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  echo "<!-- scripts/bench.sh: end -->"
} > "$work/report.md"
cat "$work/report.md"
python3 scripts/bench/write_section.py "scripts/bench.sh" "$work/report.md" --top
say "written into BENCHMARKS.md"
