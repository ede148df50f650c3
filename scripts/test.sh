#!/usr/bin/env bash
# Runs every test of Nook: Rust unit and integration tests on SQLite, the same integration
# tests again on PostgreSQL, and the web app's tests. The PostgreSQL pass uses
# NOOK_TEST_POSTGRES_URL when set, else starts the local cluster of Debian's postgresql
# package when it is installed (as root), else says it was skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

if cargo nextest --version >/dev/null 2>&1; then
  run_rust() { cargo nextest run --workspace --no-fail-fast "$@"; }
else
  run_rust() { cargo test --workspace --no-fail-fast "$@"; }
fi

echo "== Rust tests on SQLite"
env -u NOOK_TEST_POSTGRES_URL bash -c "$(declare -f run_rust); run_rust"

pg_url="${NOOK_TEST_POSTGRES_URL:-}"
if [ -z "$pg_url" ] && [ "$(id -u)" = 0 ] && command -v pg_lsclusters >/dev/null 2>&1; then
  pg_url=$(bash scripts/pg-start.sh)
fi
if [ -n "$pg_url" ]; then
  echo "== Integration tests on PostgreSQL"
  NOOK_TEST_POSTGRES_URL="$pg_url" run_rust --test it
else
  echo "== PostgreSQL pass skipped: install the postgresql package (as root) or set NOOK_TEST_POSTGRES_URL"
fi

echo "== Web app tests"
npm --prefix web test --silent
