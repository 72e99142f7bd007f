# The bucket rows of scripts/bench.sh, sourced by it: ferry on an
# S3-compatible server that is not the bottleneck (s3s-fs, a Rust S3 server
# over a local folder, built from crates.io into target/bench-tools), against
# rclone writing into the same bucket and curl reading straight from it.
#
# Uses from bench.sh: say, free_port, wait_for, now_ms, median, start_ferryd, complete_ms,
# stop, get_ms, pids, work, file, size, sha, repeats, tools, ferry, fig.

s3_key=ferry-bench s3_secret=ferry-bench-secret s3_bucket=bench

# Builds s3s-fs into $tools once; the load rows (scripts/bench/load.sh) use it too.
install_s3s() {
  if [ ! -x "$tools/bin/s3s-fs" ]; then
    say "building s3s-fs from crates.io into $tools (a few minutes)"
    (unset CARGO_TARGET_DIR; cargo install --quiet --locked s3s-fs@0.14.1 --features binary --root "$tools")
  fi
}

install_s3_tools() {
  install_s3s
  if ! command -v rclone >/dev/null; then
    say "installing rclone from the system's packages"
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends rclone >/dev/null 2>&1 ||
      { apt-get -o DPkg::Lock::Timeout=600 update >/dev/null &&
        apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends rclone >/dev/null; }
  fi
}

# Starts s3s-fs over a fresh folder holding one empty bucket; sets s3_endpoint.
start_s3s() {
  local port
  port="$(free_port)"
  mkdir -p "$work/s3s/$s3_bucket"
  "$tools/bin/s3s-fs" --host 127.0.0.1 --port "$port" \
    --access-key "$s3_key" --secret-key "$s3_secret" "$work/s3s" > "$work/s3s.log" 2>&1 &
  pids+=($!)
  s3_endpoint="http://127.0.0.1:$port"
  wait_for "$s3_endpoint"
}

# A ferryd whose store is PREFIX in the bucket; prints "PID PORT".
start_ferryd_on_bucket() {
  start_ferryd sqlite FERRY_STORE="s3://$s3_bucket/$1" FERRY_S3_ENDPOINT="$s3_endpoint" \
    FERRY_S3_REGION=us-east-1 FERRY_S3_ACCESS_KEY_ID="$s3_key" FERRY_S3_SECRET_ACCESS_KEY="$s3_secret"
}

# Bytes ferryd at BASE streamed itself to compose files, from its metrics.
streamed_bytes() {
  curl -sf "$1/metrics" | awk '/^ferry_compose_streamed_bytes_total / { print $2; found = 1 } END { if (!found) print "unknown" }'
}

bench_s3() {
  install_s3_tools
  start_s3s
  local runs=() pid port base t attempt ms
  local chunk=$(( 8 << 20 ))

  say "bucket: complete of a fully uploaded file in 8 MiB chunks (s3s-fs)"
  for attempt in $(seq "$repeats"); do
    read -r pid port < <(start_ferryd_on_bucket "complete-$attempt")
    base="http://127.0.0.1:$port"
    wait_for "$base/healthz"
    ms=$(complete_ms "$base" "$chunk") || exit 1
    runs+=("$ms")
    fig[s3_streamed]=$(streamed_bytes "$base")
    if [ "$attempt" -lt "$repeats" ]; then stop "$pid"; fi
  done
  fig[s3_complete]=$(printf '%s\n' "${runs[@]}" | median)
  local served_pid="$pid" served_base="$base"

  say "bucket: ferry upload through ferry against rclone copyto straight into the bucket"
  runs=()
  for attempt in $(seq "$repeats"); do
    read -r pid port < <(start_ferryd_on_bucket "upload-$attempt")
    wait_for "http://127.0.0.1:$port/healthz"
    t=$(now_ms)
    "$ferry" --server "http://127.0.0.1:$port" upload --json --chunk-size 8MiB --parallel 4 "$file" > /dev/null
    runs+=($(( $(now_ms) - t )))
    stop "$pid"
  done
  fig[s3_ferry_upload]=$(printf '%s\n' "${runs[@]}" | median)
  runs=()
  for attempt in $(seq "$repeats"); do
    t=$(now_ms)
    env -u AWS_CA_BUNDLE RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other \
      RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$s3_key" RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$s3_secret" \
      RCLONE_CONFIG_BENCH_ENDPOINT="$s3_endpoint" RCLONE_CONFIG_BENCH_REGION=us-east-1 \
      rclone copyto --s3-chunk-size 8M --s3-upload-concurrency 4 \
      "$file" "bench:$s3_bucket/rclone-$attempt/file.bin"
    runs+=($(( $(now_ms) - t )))
  done
  fig[s3_rclone_upload]=$(printf '%s\n' "${runs[@]}" | median)

  say "bucket: whole GET through ferry against a GET straight from s3s-fs"
  fig[s3_get_direct]=$(get_ms "$s3_endpoint/$s3_bucket/rclone-1/file.bin" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$s3_key:$s3_secret" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD") || exit 1
  fig[s3_get_ferry]=$(get_ms "$served_base/v1/files/$sha") || exit 1
  stop "$served_pid"
}

s3_rows() {
  local up=${fig[s3_ferry_upload]} rclone=${fig[s3_rclone_upload]}
  local streamed=${fig[s3_streamed]}
  local met_complete
  met_complete=$(both "$(le "${fig[s3_complete]}" 5000)" "$([ "$streamed" = 0 ] && echo 1 || echo 0)")
  row 9 "bucket (s3s-fs): \`complete\` of a fully uploaded ${size_mib} MiB file in 8 MiB chunks, and the chunk bytes ferry streamed (\`ferry_compose_streamed_bytes_total\`)" \
    "" "$(secs "${fig[s3_complete]}") s, $streamed bytes streamed" "" "≤ 5 s, 0 bytes" "$(verdict "$met_complete")"
  row 10 "bucket: \`ferry upload\` of ${size_mib} MiB through ferry (8 MiB chunks, 4 in flight) against \`rclone copyto\` straight into the bucket (8 MiB parts, 4 in flight)" \
    "rclone $(secs "$rclone") s" "$(secs "$up") s" "$(ratio "$up" "$rclone")×" "≤ 1.3×" "$(verdict "$(le "$(ratio "$up" "$rclone")" 1.3)")"
  local get_ratio
  get_ratio=$(ratio "${fig[s3_get_direct]}" "${fig[s3_get_ferry]}")
  row 11 "bucket: whole-file GET of ${size_mib} MiB through ferry against a GET straight from s3s-fs" \
    "s3s-fs $(mib "${fig[s3_get_direct]}") MiB/s" "$(mib "${fig[s3_get_ferry]}") MiB/s" "${get_ratio}×" "≥ 0.8×" "$(verdict "$(ge "$get_ratio" 0.8)")"
}
