#!/usr/bin/env bash
# The CLI over loopback, interrupted: `ferry upload` of a 1 GiB file killed
# three times then run a fourth time, the same for `ferry download`, through
# a byte-counting proxy (scripts/count-proxy.py) that shows what was sent
# twice. Then an uninterrupted upload, download and instant re-upload.
#
#   scripts/bench-cli.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin ferryd && cargo build --release --quiet -p ferry-cli --bin ferry
B=target/release
D="$(mktemp -d /tmp/ferry-bench-cli.XXXXXX)"
SIZE=$((1 << 30))
head -c $SIZE /dev/urandom > "$D/file.bin"
SHA=$(sha256sum "$D/file.bin" | cut -d' ' -f1)

NO_COLOR=1 FERRY_BIND=127.0.0.1:0 DATABASE_URL="sqlite://$D/ferry.db" FERRY_STORE="$D/objects" "$B/ferryd" 2> "$D/server.log" &
SERVER_PID=$!
until grep -q "ferryd listening" "$D/server.log"; do sleep 0.05; done
PORT=$(grep -o 'address=http://127.0.0.1:[0-9]*' "$D/server.log" | head -1 | cut -d: -f3)
DIRECT=http://127.0.0.1:$PORT
PPORT=$((PORT + 1)); while ss -ltn | grep -q ":$PPORT "; do PPORT=$((PPORT + 1)); done
python3 scripts/count-proxy.py $PPORT $PORT "$D/counter" &
PROXY_PID=$!
until [ -f "$D/counter" ]; do sleep 0.05; done
PROXY=http://127.0.0.1:$PPORT
trap 'kill $SERVER_PID $PROXY_PID 2>/dev/null || true; rm -rf "$D"' EXIT

held() { "$B/ferry" --server "$DIRECT" status --json "$SHA" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["received_bytes"])' 2>/dev/null || echo 0; }
up() { cut -d' ' -f1 "$D/counter"; }
down() { cut -d' ' -f2 "$D/counter"; }
now() { date +%s.%N; }

echo "== upload: 3 interruptions by SIGKILL, then a 4th run (via counting proxy; chunk 8 MiB, parallel 4)"
prev=0
for i in 1 2 3; do
  before=$(up); t0=$(now)
  "$B/ferry" --server "$PROXY" upload --json "$D/file.bin" > /dev/null 2>&1 &
  CLI=$!
  target=$(( SIZE * i / 4 ))
  while [ "$(held)" -lt $target ]; do sleep 0.05; done
  kill -9 $CLI; wait $CLI 2>/dev/null || true
  sleep 1
  r=$(held); after=$(up); t1=$(now)
  wire=$((after - before)); kept=$((r - prev))
  echo "run $i: killed at ${target}B target; server holds $r B; sent on the wire $wire B; kept $kept B; wasted $((wire - kept)) B = $(python3 -c "print(round(($wire-$kept)/8388608,2))") chunks of 8 MiB; $(python3 -c "print(round($t1-$t0,1))") s"
  prev=$r
done
before=$(up); t0=$(now)
/usr/bin/time -f "%M KiB max RSS" "$B/ferry" --server "$PROXY" upload --json "$D/file.bin" > "$D/run4.json" 2> "$D/run4.err"
t1=$(now); after=$(up)
echo "run 4: $(cat "$D/run4.json")"
echo "run 4: wire $((after - before)) B; missing before it $((SIZE - prev)) B; $(python3 -c "print(round($t1-$t0,2))") s; $(tail -1 "$D/run4.err")"

echo "== download: 3 interruptions by SIGKILL, then a 4th run (via counting proxy; parallel 4)"
URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$D/run4.json")
URL=${URL/$DIRECT/$PROXY}
OUT="$D/down.bin"; PART="$OUT.${SHA:0:16}.part"
prev=0
for i in 1 2 3; do
  before=$(down); t0=$(now)
  "$B/ferry" download --json "$URL" -o "$OUT" > /dev/null 2>&1 &
  CLI=$!
  target=$(( SIZE * i / 4 ))
  while [ "$(stat -c %s "$PART" 2>/dev/null || echo 0)" -lt $target ]; do sleep 0.05; done
  kill -9 $CLI; wait $CLI 2>/dev/null || true
  len=$(stat -c %s "$PART"); after=$(down); t1=$(now)
  wire=$((after - before)); kept=$((len - prev))
  echo "run $i: .part holds $len B; received on the wire $wire B; kept $kept B; fetched again later $((wire - kept)) B; $(python3 -c "print(round($t1-$t0,1))") s"
  prev=$len
done
before=$(down); t0=$(now)
/usr/bin/time -f "%M KiB max RSS" "$B/ferry" download --json "$URL" -o "$OUT" > "$D/down4.json" 2> "$D/down4.err"
t1=$(now); after=$(down)
echo "run 4: $(cat "$D/down4.json")"
echo "run 4: wire $((after - before)) B; $(python3 -c "print(round($t1-$t0,2))") s; $(tail -1 "$D/down4.err")"
cmp "$D/file.bin" "$OUT" && echo "download byte-identical: yes"
[ ! -e "$PART" ] && echo ".part renamed away: yes"

echo "== uninterrupted, direct (no proxy)"
rm -f "$OUT"
head -c $SIZE /dev/urandom > "$D/file2.bin"
t0=$(now); "$B/ferry" --server "$DIRECT" upload --json "$D/file2.bin"; t1=$(now)
echo "upload 1 GiB fresh: $(python3 -c "print(round($t1-$t0,2), 's', round(1024/($t1-$t0),1), 'MiB/s')")"
SHA2=$(sha256sum "$D/file2.bin" | cut -d' ' -f1)
t0=$(now); "$B/ferry" --server "$DIRECT" download --json "$SHA2" -o "$D/file2.out"; t1=$(now)
echo "download 1 GiB: $(python3 -c "print(round($t1-$t0,2), 's', round(1024/($t1-$t0),1), 'MiB/s')")"
cmp "$D/file2.bin" "$D/file2.out" && echo "byte-identical: yes"
t0=$(now); "$B/ferry" --server "$DIRECT" upload --json "$D/file2.bin"; t1=$(now)
echo "instant re-upload (hash only): $(python3 -c "print(round($t1-$t0,2), 's')")"
