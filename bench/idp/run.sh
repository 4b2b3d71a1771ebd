#!/usr/bin/env bash
# Tokens issued per second by the dev IdP on ONE core (server pinned with taskset -c 0), each a
# fresh client-credentials request (form post, secret check, RS256 signature). Target >= 500/s.
#
#   bash bench/idp/run.sh            # SECONDS_PER_RUN=10 CONCURRENCY=16 by default
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
CONCURRENCY="${CONCURRENCY:-16}"
TARGET=500

echo "==> building (release)"
cargo build --release -q -p fngate
cargo build --release -q -p fngate-idp --example token_load
bin=target/release/fngate
load=target/release/examples/token_load

data="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

echo "==> starting fngate idp serve on core 0"
taskset -c 0 "$bin" idp serve --data-dir "$data" --idp-addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 \
  >"$data/server.out" 2>"$data/server.err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "Press Ctrl-C" "$data/server.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "Press Ctrl-C" "$data/server.out" || { cat "$data/server.err"; echo "server did not start" >&2; exit 1; }
idp="$(awk '$1 == "idp" {print $2}' "$data/server.out")"
admin="$(awk '$1 == "admin" {print $2}' "$data/server.out")"
tenant="$(awk '$1 == "tenant" {print $2}' "$data/server.out")"

cli() { "$bin" --server "$admin" --data-dir "$data" "$@"; }
cli idp app create bench-api --identifier-uri api://bench --role Bench.Read --token-version 2 -o json >/dev/null
created="$(cli idp client create bench-client --grant bench-api/Bench.Read -o json)"
client_id="$(jq -r .client.client_id <<<"$created")"
secret="$(jq -r .secret.value <<<"$created")"
url="$idp/$tenant/oauth2/v2.0/token"

echo "==> warm-up (2 s), then ${SECONDS_PER_RUN} s with ${CONCURRENCY} concurrent clients on core 1"
taskset -c 1 "$load" "$url" "$client_id" "$secret" api://bench/.default "$CONCURRENCY" 2 >/dev/null
result="$(taskset -c 1 "$load" "$url" "$client_id" "$secret" api://bench/.default "$CONCURRENCY" "$SECONDS_PER_RUN")"
rate="$(jq -r .per_second <<<"$result")"
failed="$(jq -r .failed <<<"$result")"
ok="$(jq -r .ok <<<"$result")"

printf '\n%-44s %12s %10s %8s\n' "metric" "measured" "target" "ratio"
printf '%-44s %12s %10s %8s\n' "tokens/s, 1 core, fresh client_credentials" "$rate" ">= $TARGET" \
  "$(awk -v r="$rate" -v t="$TARGET" 'BEGIN {printf "%.2fx", r / t}')"
printf '%-44s %12s\n' "requests ok / failed" "$ok / $failed"
[ "$failed" = "0" ] || { echo "some token requests failed" >&2; exit 1; }
