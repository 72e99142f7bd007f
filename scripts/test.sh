#!/usr/bin/env bash
# The one test command: formatting, lints, documentation, the whole
# test suite of every crate against SQLite and PostgreSQL, and a fuzz run
# of the API against its OpenAPI document (scripts/api-fuzz.sh). PostgreSQL is taken from DATABASE_URL (default: the
# local server on 127.0.0.1:5432); when none answers and PostgreSQL's
# binaries are installed, a throwaway cluster is started for the run.
# Last, the JavaScript client's tests and the upload page in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

postgres_answers() {
  local rest hostport host port
  rest="${DATABASE_URL#*://}"
  rest="${rest#*@}"
  hostport="${rest%%/*}"
  host="${hostport%%:*}"
  port="${hostport##*:}"
  [ "$port" = "$hostport" ] && port=5432
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -d "$DATABASE_URL" -t 3
  else
    timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
  fi
}

find_postgres_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  local dir
  for dir in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
    if [ -x "$dir/initdb" ]; then
      echo "$dir"
      return
    fi
  done
  return 1
}

start_throwaway_postgres() {
  local bin run_as cluster port
  bin="$(find_postgres_bin)" || {
    echo "scripts/test.sh: PostgreSQL does not answer at $DATABASE_URL and no PostgreSQL binaries are installed." >&2
    echo "Install PostgreSQL (e.g. apt-get install postgresql) or set DATABASE_URL." >&2
    exit 1
  }
  cluster="$(mktemp -d /tmp/ferry-pg.XXXXXX)"
  port=$(( 20000 + RANDOM % 20000 ))
  run_as=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$cluster"
    run_as=(runuser -u postgres --)
  fi
  echo "scripts/test.sh: starting a throwaway PostgreSQL in $cluster on port $port"
  ${run_as[@]+"${run_as[@]}"} "$bin/initdb" -D "$cluster/data" -U postgres --auth=trust >/dev/null
  ${run_as[@]+"${run_as[@]}"} "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $cluster -c fsync=off -c max_connections=300" start >/dev/null
  local stop
  stop="$(printf '%q ' ${run_as[@]+"${run_as[@]}"} "$bin/pg_ctl" -D "$cluster/data" -m immediate stop)"
  trap "$stop >/dev/null 2>&1; rm -rf $(printf '%q' "$cluster")" EXIT
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

if ! postgres_answers; then
  start_throwaway_postgres
fi
echo "scripts/test.sh: PostgreSQL at ${DATABASE_URL%%@*}@…"

# Python tools go into their own virtual environments under target/test-tools
# while the lints run. install_venv DIR PACKAGE COMMAND PURPOSE OVERRIDE does
# nothing when OVERRIDE (a variable naming a tool of the user's) is set or
# DIR/bin/COMMAND is there already.
install_venv() {
  local dir=$1 package=$2 command=$3 purpose=$4 override=$5
  if [ -n "$override" ] || [ -x "$dir/bin/$command" ]; then
    return
  fi
  echo "scripts/test.sh: installing $package (PyPI) into $dir for $purpose"
  mkdir -p "$(dirname "$dir")"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$package"
}

# The s3:// tests run against moto's S3 server, unless FERRY_TEST_MOTO_PYTHON
# names a Python that has it.
install_venv target/test-tools/s3 'moto[server]==5.2.5' moto_server \
  'the s3:// tests' "${FERRY_TEST_MOTO_PYTHON:-}" &
s3_install=$!

# The API fuzz run uses schemathesis, unless FERRY_TEST_SCHEMATHESIS names
# its `st` command.
install_venv target/test-tools/schemathesis 'schemathesis==4.32.5' st \
  'the API fuzz run' "${FERRY_TEST_SCHEMATHESIS:-}" &
fuzz_install=$!

# The upload page's browser test drives Debian's chromium; it is installed
# while the lints run when it is missing and FERRY_TEST_CHROMIUM names none.
install_chromium() {
  if [ -n "${FERRY_TEST_CHROMIUM:-}" ] || [ -x /usr/bin/chromium ]; then
    return
  fi
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  echo "scripts/test.sh: installing Debian's chromium for the upload page's browser test"
  ${sudo[@]+"${sudo[@]}"} apt-get update -qq
  DEBIAN_FRONTEND=noninteractive ${sudo[@]+"${sudo[@]}"} apt-get install -y -qq chromium >/dev/null
}
install_chromium &
chromium_install=$!

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
wait "$s3_install" || { echo "scripts/test.sh: could not install moto's S3 server" >&2; exit 1; }
cargo test --workspace --all-targets --locked
wait "$fuzz_install" || { echo "scripts/test.sh: could not install schemathesis" >&2; exit 1; }
scripts/api-fuzz.sh target/debug/ferryd

# The JavaScript client's tests and the upload page in Chromium, against the
# ferryd that cargo test just built; the dev dependencies (playwright-core,
# esbuild, miniprogram-ci) come from the npm registry
# (clients/js/package-lock.json). The mini-program bundle is built from the
# sources first, as `npm pack` would.
command -v node >/dev/null 2>&1 || { echo "scripts/test.sh: Node.js 18 or later is needed for clients/js" >&2; exit 1; }
wait "$chromium_install" || { echo "scripts/test.sh: could not install chromium" >&2; exit 1; }
export FERRY_TEST_FERRYD="${FERRY_TEST_FERRYD:-$PWD/target/debug/ferryd}"
for package in playwright-core esbuild miniprogram-ci tus-js-client @uppy/core @uppy/tus; do
  if [ ! -d "clients/js/node_modules/$package" ]; then
    (cd clients/js && npm ci --no-audit --no-fund --loglevel=error)
    break
  fi
done
(cd clients/js && npm run --silent build:miniprogram)
(cd clients/js && node --test test/*.test.js && node --test --test-timeout=300000 browser-test/*.test.js)
