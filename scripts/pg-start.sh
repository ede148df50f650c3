#!/usr/bin/env bash
# Starts a local PostgreSQL for the test suite (Debian's postgresql package) and prints the URL
# to use as NOOK_TEST_POSTGRES_URL. Idempotent: a running cluster is reused.
set -euo pipefail
port="${NOOK_TEST_PG_PORT:-5432}"
password="${NOOK_TEST_PG_PASSWORD:-nook-test}"
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  echo "pg-start: PostgreSQL is not installed (apt-get install -y postgresql)" >&2
  exit 1
fi
read -r ver name cport status _ < <(pg_lsclusters --no-header | head -n 1) || true
if [ -z "${ver:-}" ]; then
  ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  pg_createcluster "$ver" main --port "$port" >&2
  name=main; cport=$port; status=down
fi
if [ "$status" != "online" ]; then
  # pg_ctlcluster prints notes such as "Removed stale pid file." on stdout; only the URL may go
  # there, since callers capture it.
  pg_ctlcluster "$ver" "$name" start >&2
fi
for _ in $(seq 1 50); do
  if runuser -u postgres -- psql -p "$cport" -tAc 'select 1' >/dev/null 2>&1; then break; fi
  sleep 0.2
done
runuser -u postgres -- psql -p "$cport" -q -c "ALTER USER postgres PASSWORD '$password'" >&2
echo "postgres://postgres:$password@127.0.0.1:$cport/postgres"
