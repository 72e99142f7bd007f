#!/usr/bin/env bash
# Property-based fuzzing of the API against its own OpenAPI document, with
# schemathesis: a real ferryd on a free loopback port, a throwaway SQLite
# database and object folder, and a bearer token so that requests reach the
# handlers. It runs every check schemathesis has: it fails on any server
# error, any status, content type or body the document does not describe,
# any request breaking the document that the server accepts, and any
# request the document allows that the server refuses for something other
# than what no schema can express (a wrong hash, a chunk that does not fit
# its session, a precondition that does not hold: scripts/api-fuzz-hooks.py).
# The run is bounded: a fixed number of examples per operation and a fixed
# seed.
#
# Usage: scripts/api-fuzz.sh [FERRYD]   (default: target/debug/ferryd)
# FERRY_TEST_SCHEMATHESIS names the `st` command (default: the one
# scripts/test.sh installs into target/test-tools/schemathesis);
# FERRY_FUZZ_CHECKS a comma-separated list of checks instead of all.
set -euo pipefail
cd "$(dirname "$0")/.."

ferryd="$(realpath "${1:-target/debug/ferryd}")"
st="$(realpath "${FERRY_TEST_SCHEMATHESIS:-target/test-tools/schemathesis/bin/st}")"
settings="$(realpath scripts/api-fuzz.toml)"
hooks="$(realpath scripts/api-fuzz-hooks.py)"
examples="${FERRY_FUZZ_EXAMPLES:-100}"
seed="${FERRY_FUZZ_SEED:-20261123}"

work="$(mktemp -d /tmp/ferry-fuzz.XXXXXX)"
server=""
finish() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap finish EXIT

secret="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
serve_env=(
  PATH="$PATH"
  FERRY_BIND=127.0.0.1:0
  DATABASE_URL="sqlite://$work/ferry.db"
  FERRY_STORE="$work/objects"
  FERRY_JWT_SECRET="$secret"
  FERRY_OWNER_RATE=100000
  FERRY_OWNER_MAX_SESSIONS=100000
  FERRY_LOG_FORMAT=json
  RUST_LOG=warn,ferryd=info
)
token="$(env -i "${serve_env[@]}" "$ferryd" token --sub fuzz --ttl 2h)"

env -i "${serve_env[@]}" "$ferryd" >"$work/ferryd.log" 2>&1 &
server=$!
address=""
for _ in $(seq 300); do
  address="$(grep -o 'ferryd listening.*' "$work/ferryd.log" | grep -oE 'http://127\.0\.0\.1:[0-9]+' | head -n1 || true)"
  if [ -n "$address" ] || ! kill -0 "$server" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if [ -z "$address" ]; then
  echo "scripts/api-fuzz.sh: ferryd did not start:" >&2
  cat "$work/ferryd.log" >&2
  exit 1
fi
# One published file, for the downloads to ask for.
printf 'ferry fuzz\n' >"$work/published.txt"
FERRY_FUZZ_FILE="$(sha256sum "$work/published.txt" | cut -d' ' -f1)"
export FERRY_FUZZ_FILE
python3 - "$address/v1/files/$FERRY_FUZZ_FILE?filename=published.txt" "$token" "$work/published.txt" <<'PUBLISH'
import sys, urllib.request
url, token, path = sys.argv[1:]
with open(path, "rb") as body:
    request = urllib.request.Request(url, data=body.read(), method="PUT", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "text/plain"})
with urllib.request.urlopen(request) as answer:
    assert answer.status in (200, 201), answer.status
PUBLISH

echo "scripts/api-fuzz.sh: fuzzing ferryd at $address ($examples examples per operation, seed $seed)"

status=0
(
  cd "$work"
  SCHEMATHESIS_HOOKS="$hooks" "$st" --no-color --config-file "$settings" run "$address/v1/openapi.yaml" \
    --url "$address" \
    -H "Authorization: Bearer $token" \
    --checks "${FERRY_FUZZ_CHECKS:-all}" \
    --max-examples "$examples" --seed "$seed" --workers 2 \
    --generation-database none --request-timeout 30
) || status=$?
if [ "$status" != 0 ]; then
  echo "scripts/api-fuzz.sh: the API and its document disagree (see above); ferryd's log:" >&2
  grep -v '"level":"INFO"' "$work/ferryd.log" | tail -n 50 >&2 || true
fi
exit "$status"
