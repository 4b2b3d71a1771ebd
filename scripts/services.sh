#!/usr/bin/env bash
# The services the tests use: PostgreSQL (FNGATE_TEST_DATABASE_URL, default
# postgres://postgres@127.0.0.1:5432/test, trust auth) and Redis (FNGATE_TEST_REDIS_URL, default
# redis://127.0.0.1:6379). Project machines run both already, and then this does nothing; on a
# fresh Debian machine it installs them from Debian's packages and starts them on loopback.
# PostgreSQL refuses to run as root, so its cluster is started with pg_ctlcluster (which runs
# the server as the `postgres` user) and set up through `su postgres`.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { as_root su postgres -s /bin/sh -c "$*"; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 100); do port_open "$1" "$2" && return 0; sleep 0.1; done
  echo "$3 does not answer on $1:$2" >&2
  return 1
}
apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
say() { printf '==> %s\n' "$*"; }

pg_url=${FNGATE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
redis_url=${FNGATE_TEST_REDIS_URL:-redis://127.0.0.1:6379}

# Only the default, local addresses are ours to install; a URL given elsewhere must answer.
if [ "$pg_url" = postgres://postgres@127.0.0.1:5432/test ] && ! port_open 127.0.0.1 5432; then
  say "PostgreSQL is not running on 127.0.0.1:5432: installing and starting it (Debian packages)"
  command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    as_root pg_createcluster "$version" main
  fi
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  # Trust on loopback (a test machine's database): the tests connect as postgres, no password.
  if ! as_root grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  as_root pg_ctlcluster "$version" main start || as_root pg_ctlcluster "$version" main reload
  wait_port 127.0.0.1 5432 PostgreSQL
  if [ "$(as_postgres "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"")" != 1 ]; then
    as_postgres "createdb test"
  fi
fi

if [ "$redis_url" = redis://127.0.0.1:6379 ] && ! port_open 127.0.0.1 6379; then
  say "Redis is not running on 127.0.0.1:6379: installing and starting it (Debian packages)"
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  as_root service redis-server start >/dev/null 2>&1 ||
    as_root redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no
  wait_port 127.0.0.1 6379 Redis
fi

# tests/shared_rate_limits.rs starts (and kills) a Redis of its own: the binary must be there.
command -v redis-server >/dev/null 2>&1 || apt_install redis-server

# Whatever the URLs, the tests need them to answer.
hostport() { local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}; rest=${rest%%\?*}; echo "$rest"; }
for service in "PostgreSQL $pg_url 5432" "Redis $redis_url 6379"; do
  set -- $service
  address=$(hostport "$2")
  host=${address%:*}
  port=${address##*:}
  [ "$host" = "$address" ] && port=$3
  port_open "$host" "$port" || { echo "$1 at $host:$port does not answer (from $2)" >&2; exit 1; }
done
