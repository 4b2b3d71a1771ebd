#!/usr/bin/env bash
# Functions benchmark: cold start vs the FDK's own socket-ready time, hot /invoke vs the direct
# unix-socket round trip to the same FDK process, throughput at 1/4/16 clients. Prints one table.
# Usage: bash bench/functions/run.sh   (needs python3 with venv, network for PyPI the first time)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

echo "==> building release binaries (fngate, fdk_bench)"
cargo build --release -q -p fngate
cargo build --release -q -p fngate-functions --example fdk_bench
bin="$root/target/release/fngate"
bench="$root/target/release/examples/fdk_bench"

work="$(mktemp -d /tmp/fngate-bench.XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

export FNGATE_DATA_DIR="$work/data"
export FNGATE_ENVS_DIR="$root/target/fngate-bench/envs"
export PIP_CACHE_DIR="$root/target/fngate-bench/pip-cache"
export FNGATE_LOG=warn
mkdir -p "$FNGATE_ENVS_DIR"

"$bin" up --functions-addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0 \
  --idp-addr 127.0.0.1:0 >"$work/up.log" 2>"$work/up.err" &
server_pid=$!
for _ in $(seq 1 100); do grep -q "Press Ctrl-C" "$work/up.log" 2>/dev/null && break; sleep 0.1; done
functions="$(awk '$1=="functions"{print $2}' "$work/up.log")"
admin="$(awk '$1=="admin"{print $2}' "$work/up.log")"
export FNGATE_SERVER="$admin"

echo "==> fngate init + deploy (generated Python hello-world, idle_timeout 1 for cold starts)"
cd "$work"
"$bin" init --runtime python hello >/dev/null
printf 'idle_timeout: 1\n' >> hello/func.yaml
"$bin" deploy --app bench --create-app hello >/dev/null 2>"$work/deploy.err" || { cat "$work/deploy.err"; exit 1; }
fdk="$(ls -d "$FNGATE_ENVS_DIR"/*/bin/fdk | head -1)"

echo "==> measuring"
"$bench" "$functions" "$admin" "$FNGATE_DATA_DIR" "$fdk" "$work/hello/func.py"
echo "(machine: $(nproc) CPUs, $(uname -sr))"
