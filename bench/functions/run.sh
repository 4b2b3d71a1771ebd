#!/usr/bin/env bash
# Functions benchmark: cold start vs the FDK's own socket-ready time, hot /invoke vs the direct
# unix-socket round trip to the same FDK process, throughput at 1/4/16 clients. Prints one table.
# Usage: bash bench/functions/run.sh   (needs python3 with venv, network for PyPI the first time)
#        FNGATE_BIN=/path/fngate [FDK_BENCH_BIN=/path/fdk_bench] bash bench/functions/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

# FNGATE_BIN / FDK_BENCH_BIN: use these binaries instead of building (e.g. to compare a copy of
# the "before" fngate with the current one, back to back, with the same load generator).
if [ -n "${FNGATE_BIN:-}" ] && [ -n "${FDK_BENCH_BIN:-}" ]; then
  echo "==> using FNGATE_BIN=$FNGATE_BIN FDK_BENCH_BIN=$FDK_BENCH_BIN"
else
  echo "==> building release binaries (fngate, fdk_bench)"
  [ -n "${FNGATE_BIN:-}" ] || cargo build --release -q -p fngate
  [ -n "${FDK_BENCH_BIN:-}" ] || cargo build --release -q -p fngate-functions --example fdk_bench
fi
bin="${FNGATE_BIN:-$root/target/release/fngate}"
bench="${FDK_BENCH_BIN:-$root/target/release/examples/fdk_bench}"

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
# The baseline runs the FDK by hand, outside any sandbox, from a venv of its own: fngate's
# prepared environments are built for the sandbox's /python and do not run on the host.
host_venv="$root/target/fngate-bench/host-venv"
[ -x "$host_venv/bin/fdk" ] || { python3 -m venv "$host_venv" && "$host_venv/bin/pip" install -q --disable-pip-version-check --no-cache-dir fdk; }
fdk="$host_venv/bin/fdk"

echo "==> measuring"
"$bench" "$functions" "$admin" "$FNGATE_DATA_DIR" "$fdk" "$work/hello/func.py"
echo "(machine: $(nproc) CPUs, $(uname -sr))"
