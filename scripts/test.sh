#!/usr/bin/env bash
# Runs every test of Nook: Rust unit and integration tests on SQLite, the same integration
# tests again on PostgreSQL, the web app's unit tests, and its end-to-end tests in a real
# headless Chromium against the real binary. The PostgreSQL pass uses NOOK_TEST_POSTGRES_URL
# when set, else starts the local cluster of Debian's postgresql package when it is installed
# (as root), else says it was skipped. Chromium is Debian's package (installed here when
# missing and running as root); no test ever downloads a browser.
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests exercise the real product: the binary with the web app built and embedded.
unset NOOK_SKIP_WEB_BUILD NOOK_WEB_DIST

if cargo nextest --version >/dev/null 2>&1; then
  run_rust() { cargo nextest run --workspace --no-fail-fast "$@"; }
else
  run_rust() { cargo test --workspace --no-fail-fast "$@"; }
fi

echo "== Rust tests on SQLite"
env -u NOOK_TEST_POSTGRES_URL bash -c "$(declare -f run_rust); run_rust"

echo "== A second build with nothing changed does nothing"
bash scripts/check-fresh.sh

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

echo "== Web app unit tests"
[ -d web/node_modules ] || npm --prefix web ci --no-audit --no-fund
npm --prefix web test --silent

echo "== Web app end-to-end tests (headless Chromium, real binary)"
chromium_bin="${NOOK_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium_bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "end-to-end tests need Debian's chromium package (apt-get install chromium) or NOOK_CHROMIUM=<path>" >&2
    exit 1
  fi
fi
# target/debug/nook is the binary the Rust integration tests above built and ran (a plain
# `cargo build` would unify features without dev-dependencies and compile it all again).
NOOK_BIN="$PWD/target/debug/nook" NOOK_CHROMIUM="$chromium_bin" npm --prefix web run test:e2e --silent
