#!/usr/bin/env bash
# fngate gateway vs nginx / HAProxy, measured in the same run (peers-and-baselines.md §4.3 configs):
#   1. stock response: fngate STOCK_RESPONSE_BACKEND route vs nginx `return 200` (target: ≥ 50 % of nginx)
#   2. proxy: fngate HTTP_BACKEND vs HAProxy, both proxying to the same nginx (target: ≥ HAProxy, p99 no worse)
# wrk -t1 -c32, ROUNDS interleaved rounds of DURATION, median reported; server CPU per request from
# /proc/<pid>/stat (utime+stime). nginx runs 1 worker, HAProxy nbthread 1, fngate TOKIO_WORKER_THREADS=1.
# Env: ROUNDS (3), DURATION (5s), FNGATE_BIN (use this fngate binary instead of building one),
# PINGORA=1 (also build and measure bench/gateway/pingora, the smallest Pingora proxy, one thread, as a
# second proxy baseline: where a purpose-built Rust proxy engine lands against HAProxy here),
# ACCESS_LOG=1 (also measure fngate's proxy route with its access log on, fngate's default: a second
# deployment under /logged, lines to a file). Access logging is otherwise off on every server (nginx
# `access_log off`, spec `loggingPolicies.accessLog.isEnabled: false`; HAProxy logs nothing here).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
work="$root/bench/gateway/.work"
rm -rf "$work"; mkdir -p "$work"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5s}"
NGX_PORT=18180; HP_PORT=18181; GW_PORT=18190; ADMIN_PORT=18191; PG_PORT=18182
PINGORA="${PINGORA:-0}"
ACCESS_LOG="${ACCESS_LOG:-0}"

if [ "$(id -u)" = 0 ]; then
  missing=()
  pairs=(nginx:nginx haproxy:haproxy wrk:wrk curl:curl)
  [ "$PINGORA" = 1 ] && pairs+=(cmake:cmake)  # Pingora's zlib-ng build needs it
  for pair in "${pairs[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt)" >&2
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
export PATH="$PATH:/usr/sbin"
for tool in nginx haproxy wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench/gateway: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done

if [ -n "${FNGATE_BIN:-}" ]; then
  bin="$FNGATE_BIN"  # an already-built binary (e.g. to compare two builds under the same load)
else
  echo "building fngate (release)..." >&2
  cargo build -q --release -p fngate
  bin="$root/target/release/fngate"
fi

if [ "$PINGORA" = 1 ]; then
  echo "building the Pingora baseline (release; first build takes minutes)..." >&2
  cargo build -q --release --manifest-path "$root/bench/gateway/pingora/Cargo.toml"
  pingora_bin="$root/bench/gateway/pingora/target/release/pingora-baseline"
fi

cat > "$work/nginx.conf" <<NGX
worker_processes 1;  daemon off;
pid $work/nginx.pid;  error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000;
  server { listen 127.0.0.1:$NGX_PORT;
    location / { default_type application/json; return 200 '{"message":"Hello World"}'; } } }
NGX
cat > "$work/haproxy.cfg" <<HAP
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend fe
    bind 127.0.0.1:$HP_PORT
    default_backend be
backend be
    http-reuse always
    server nginx 127.0.0.1:$NGX_PORT
HAP
cat > "$work/spec.json" <<SPEC
{
  "loggingPolicies": {"accessLog": {"isEnabled": false}},
  "routes": [
    {"path": "/stock", "methods": ["GET"],
     "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "{\"message\":\"Hello World\"}",
                 "headers": [{"name": "Content-Type", "value": "application/json"}]}},
    {"path": "/proxy", "methods": ["GET"],
     "backend": {"type": "HTTP_BACKEND", "url": "http://127.0.0.1:$NGX_PORT/"}}
  ]
}
SPEC

sed 's/"isEnabled": false/"isEnabled": true/' "$work/spec.json" > "$work/spec-logged.json"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_url() {
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "nothing answers at $1" >&2; exit 1
}

nginx -c "$work/nginx.conf" >"$work/nginx.log" 2>&1 & NGX_PID=$!; pids+=("$NGX_PID")
haproxy -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 & HP_PID=$!; pids+=("$HP_PID")
TOKIO_WORKER_THREADS=1 FNGATE_LOG=warn "$bin" up --data-dir "$work/data" \
  --gateway-addr 127.0.0.1:$GW_PORT --admin-addr 127.0.0.1:$ADMIN_PORT \
  --functions-addr 127.0.0.1:0 --idp-addr 127.0.0.1:0 >"$work/fngate.log" 2>&1 & GW_PID=$!; pids+=("$GW_PID")
if [ "$PINGORA" = 1 ]; then
  printf 'version: 1\nthreads: 1\npid_file: %s/pingora.pid\nupgrade_sock: %s/pingora.sock\n' "$work" "$work" > "$work/pingora.yaml"
  LISTEN=127.0.0.1:$PG_PORT UPSTREAM=127.0.0.1:$NGX_PORT "$pingora_bin" -c "$work/pingora.yaml" >"$work/pingora.log" 2>&1 & PG_PID=$!; pids+=("$PG_PID")
  wait_url "http://127.0.0.1:$PG_PORT/"
fi
wait_url "http://127.0.0.1:$NGX_PORT/"; wait_url "http://127.0.0.1:$HP_PORT/"; wait_url "http://127.0.0.1:$ADMIN_PORT/healthz"
"$bin" gateway deploy --server "http://127.0.0.1:$ADMIN_PORT" --data-dir "$work/data" \
  --name bench --path-prefix / --spec "$work/spec.json" >&2
if [ "$ACCESS_LOG" = 1 ]; then
  "$bin" gateway deploy --server "http://127.0.0.1:$ADMIN_PORT" --data-dir "$work/data" \
    --name logged --path-prefix /logged --spec "$work/spec-logged.json" >&2
fi

urls=("http://127.0.0.1:$NGX_PORT/" "http://127.0.0.1:$HP_PORT/" "http://127.0.0.1:$GW_PORT/stock" "http://127.0.0.1:$GW_PORT/proxy")
[ "$PINGORA" = 1 ] && urls+=("http://127.0.0.1:$PG_PORT/")
[ "$ACCESS_LOG" = 1 ] && urls+=("http://127.0.0.1:$GW_PORT/logged/proxy")
for url in "${urls[@]}"; do
  body=$(curl -s "$url")
  [ "$body" = '{"message":"Hello World"}' ] || { echo "correctness check failed: $url answered $body" >&2; exit 1; }
done
echo "correctness: all ${#urls[@]} endpoints answer {\"message\":\"Hello World\"}" >&2

tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# measure NAME URL PID... -> "rps p99_ms cpu_us_per_req(server pids summed)"
measure() {
  local url=$1; shift
  local before=0 after=0 p out
  for p in "$@"; do before=$((before + $(cpu_ticks "$p"))); done
  out=$(wrk -t1 -c32 -d"$DURATION" --latency "$url")
  for p in "$@"; do after=$((after + $(cpu_ticks "$p"))); done
  echo "$out" >> "$work/wrk.log"
  if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "errors at $url:" >&2; echo "$out" | grep "Non-2xx\|Socket" >&2; fi
  echo "$out" | awk -v ticks=$((after - before)) -v tck="$tck" '
    /Requests\/sec/ { rps = $2 }
    /requests in/ { reqs = $1 }
    $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                  p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
    END { printf "%s %.3f %.1f\n", rps, p99, (ticks / tck) * 1e6 / reqs }'
}
median() { sort -g | awk '{a[NR] = $1} END { print a[int((NR + 1) / 2)] }'; }

declare -A R
names=(nginx fngate_stock haproxy fngate_proxy)
[ "$PINGORA" = 1 ] && names+=(pingora)
[ "$ACCESS_LOG" = 1 ] && names+=(fngate_proxy_logged)
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  # nginx serves from its worker process (a child of the master).
  R[nginx.$round]=$(measure "http://127.0.0.1:$NGX_PORT/" "$NGX_PID" $(pgrep -P "$NGX_PID"))
  R[fngate_stock.$round]=$(measure "http://127.0.0.1:$GW_PORT/stock" "$GW_PID")
  # Proxy CPU counts the proxy only (nginx behind both is the same).
  R[haproxy.$round]=$(measure "http://127.0.0.1:$HP_PORT/" "$HP_PID")
  R[fngate_proxy.$round]=$(measure "http://127.0.0.1:$GW_PORT/proxy" "$GW_PID")
  if [ "$PINGORA" = 1 ]; then R[pingora.$round]=$(measure "http://127.0.0.1:$PG_PORT/" "$PG_PID"); fi
  if [ "$ACCESS_LOG" = 1 ]; then
    R[fngate_proxy_logged.$round]=$(measure "http://127.0.0.1:$GW_PORT/logged/proxy" "$GW_PID")
  fi
done

declare -A RPS P99 CPU
for n in "${names[@]}"; do
  RPS[$n]=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$n.$r]}" | awk '{print $1}'; done | median)
  P99[$n]=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$n.$r]}" | awk '{print $2}'; done | median)
  CPU[$n]=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$n.$r]}" | awk '{print $3}'; done | median)
done

printf '\n%-40s %12s %10s %14s\n' "scenario (wrk -t1 -c32 -d$DURATION, median of $ROUNDS)" "req/s" "p99 ms" "server CPU/req"
row() { printf '%-40s %12s %10s %12s us\n' "$1" "${RPS[$2]}" "${P99[$2]}" "${CPU[$2]}"; }
row "nginx return 200" nginx
row "fngate STOCK_RESPONSE_BACKEND" fngate_stock
row "haproxy -> nginx" haproxy
row "fngate HTTP_BACKEND -> nginx" fngate_proxy
[ "$PINGORA" = 1 ] && row "pingora (1 thread) -> nginx" pingora
[ "$ACCESS_LOG" = 1 ] && row "fngate HTTP_BACKEND, access log on" fngate_proxy_logged
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "stock: fngate/nginx throughput = $(ratio "${RPS[fngate_stock]}" "${RPS[nginx]}") (target >= 0.50)"
echo "proxy: fngate/haproxy throughput = $(ratio "${RPS[fngate_proxy]}" "${RPS[haproxy]}") (target >= 1.00); p99 fngate ${P99[fngate_proxy]} ms vs haproxy ${P99[haproxy]} ms (target: no worse)"
if [ "$PINGORA" = 1 ]; then
  echo "pingora: pingora/haproxy throughput = $(ratio "${RPS[pingora]}" "${RPS[haproxy]}"); fngate/pingora = $(ratio "${RPS[fngate_proxy]}" "${RPS[pingora]}")"
fi
if [ "$ACCESS_LOG" = 1 ]; then
  echo "access log: fngate proxy with/without = $(ratio "${RPS[fngate_proxy_logged]}" "${RPS[fngate_proxy]}") (throughput); with it on vs haproxy = $(ratio "${RPS[fngate_proxy_logged]}" "${RPS[haproxy]}")"
fi
echo "raw wrk output: $work/wrk.log"
