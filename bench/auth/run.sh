#!/usr/bin/env bash
# JWT-protected stock-response route: fngate-auth vs HAProxy 2.6 `jwt_verify`, same RS256 token, same run.
# Scenarios: one repeated token (fngate's verified-token cache applies) and distinct tokens (every request
# pays a full RS256 verification). wrk -t1 -c32, interleaved rounds, median reported.
#
# The gateway's own route was not available when this was written, so the fngate side is the
# `auth_bench` example: the real Authenticator + authorize_in_realm in front of a stock response, on a
# one-thread runtime (HAProxy runs nbthread 1). Env: ROUNDS (3), DURATION (4s), TOKENS (120000).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
work="$root/bench/auth/.work"
mkdir -p "$work"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-4s}"
TOKENS="${TOKENS:-120000}"
HP_PORT=18482
FG_PORT=18483

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "installing $2 (apt)" >&2
    apt-get install -y -qq "$2" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
  else
    echo "bench/auth: '$1' is missing; install the '$2' package" >&2
    exit 1
  fi
}
need haproxy haproxy
need wrk wrk
need curl curl

echo "building auth_bench (release)..." >&2
cargo build -q --release -p fngate-auth --example auth_bench
bin="$root/target/release/examples/auth_bench"

# Tokens expire after a day: regenerate when older than 12 h or too few.
if [ ! -f "$work/tokens.txt" ] || [ -n "$(find "$work/tokens.txt" -mmin +720)" ] \
   || [ "$(wc -l < "$work/tokens.txt")" -lt "$TOKENS" ]; then
  echo "signing $TOKENS distinct tokens..." >&2
  "$bin" prepare "$work" "$TOKENS"
fi
sed -e "s|@PORT@|$HP_PORT|" -e "s|@KEY@|$work/rsa.pub|" bench/auth/haproxy-jwt.cfg.in > "$work/haproxy-jwt.cfg"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  exit 1
}

haproxy -f "$work/haproxy-jwt.cfg" >"$work/haproxy.log" 2>&1 &
HP_PID=$!; pids+=("$HP_PID")
wait_port "$HP_PORT"

start_fngate() {
  "$bin" serve "$work" "$FG_PORT" >"$work/fngate.log" 2>&1 &
  FG_PID=$!; pids+=("$FG_PID")
  wait_port "$FG_PORT"
}
stop_fngate() { kill "$FG_PID" 2>/dev/null || true; wait "$FG_PID" 2>/dev/null || true; }
start_fngate

good="$(cat "$work/good.jwt")"
bad="$(cat "$work/bad.jwt")"
check() { # name port token expected
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' ${3:+-H "Authorization: Bearer $3"} "http://127.0.0.1:$2/v1/bench")
  [ "$code" = "$4" ] || { echo "correctness check failed: $1 on port $2 answered $code, expected $4" >&2; exit 1; }
}
for port in "$HP_PORT" "$FG_PORT"; do
  check good "$port" "$good" 200; check wrong-key "$port" "$bad" 401; check none "$port" "" 401
done
echo "correctness: both answer 200 for the good token, 401 for a wrong-key token and for no token" >&2

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

# run_wrk PID PORT MODE -> prints "rps p99_ms requests cpu_us_per_req"
run_wrk() {
  local pid=$1 port=$2 mode=$3 out before after
  before=$(cpu_ticks "$pid")
  if [ "$mode" = repeated ]; then
    out=$(wrk -t1 -c32 -d"$DURATION" --latency -H "Authorization: Bearer $good" "http://127.0.0.1:$port/v1/bench")
  else
    out=$(wrk -t1 -c32 -d"$DURATION" --latency -s bench/auth/tokens.lua "http://127.0.0.1:$port/v1/bench" -- "$work/tokens.txt")
  fi
  after=$(cpu_ticks "$pid")
  echo "$out" >> "$work/wrk.log"
  if echo "$out" | grep -q "Non-2xx"; then
    echo "non-2xx responses on port $port ($mode):" >&2; echo "$out" | grep Non-2xx >&2; exit 1
  fi
  echo "$out" | awk -v ticks=$((after - before)) -v tck="$tck" '
    /Requests\/sec/ { rps = $2 }
    /requests in/ { reqs = $1 }
    $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                  p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
    END { printf "%s %.3f %d %.1f\n", rps, p99, reqs, (ticks / tck) * 1e6 / reqs }'
}

median() { sort -g | awk '{a[NR] = $1} END { print a[int((NR + 1) / 2)] }'; }

: > "$work/wrk.log"
declare -A rps p99 cpu
for scenario in repeated distinct; do
  for server in haproxy fngate; do rps[$server.$scenario]=""; p99[$server.$scenario]=""; cpu[$server.$scenario]=""; done
done
max_distinct_requests=0
for round in $(seq 1 "$ROUNDS"); do
  for scenario in repeated distinct; do
    for server in haproxy fngate; do
      if [ "$server" = haproxy ]; then pid=$HP_PID; port=$HP_PORT; else
        # A fresh fngate per distinct round: no token from an earlier round sits in its cache.
        if [ "$scenario" = distinct ]; then stop_fngate; start_fngate; fi
        pid=$FG_PID; port=$FG_PORT
      fi
      read -r r p n c < <(run_wrk "$pid" "$port" "$scenario")
      echo "round $round $scenario $server: $r req/s, p99 $p ms, $c us CPU/req ($n requests)" >&2
      rps[$server.$scenario]+="$r "; p99[$server.$scenario]+="$p "; cpu[$server.$scenario]+="$c "
      if [ "$scenario" = distinct ] && [ "$n" -gt "$max_distinct_requests" ]; then max_distinct_requests=$n; fi
    done
  done
done

ntok=$(wc -l < "$work/tokens.txt")
micro=$("$bin" micro "$work")

med() { echo "$1" | tr ' ' '\n' | grep -v '^$' | median; }
printf '\n## JWT-protected stock response: fngate-auth vs HAProxy 2.6 jwt_verify (RS256, 2048-bit key)\n'
printf 'wrk -t1 -c32 -d%s, %s interleaved rounds, medians; both servers on one thread; %s\n\n' "$DURATION" "$ROUNDS" "$(nproc) CPUs"
printf '| scenario | server | req/s | p99 ms | server CPU us/req | fngate/haproxy req/s | target |\n|---|---|---|---|---|---|---|\n'
for scenario in repeated distinct; do
  hr=$(med "${rps[haproxy.$scenario]}"); fr=$(med "${rps[fngate.$scenario]}")
  hp=$(med "${p99[haproxy.$scenario]}"); fp=$(med "${p99[fngate.$scenario]}")
  hc=$(med "${cpu[haproxy.$scenario]}"); fc=$(med "${cpu[fngate.$scenario]}")
  ratio=$(awk -v a="$fr" -v b="$hr" 'BEGIN { printf "%.2f", a / b }')
  if [ "$scenario" = repeated ]; then target=">= 2.00x"; else target=">= 1.00x"; fi
  printf '| %s token | haproxy | %.0f | %.2f | %.1f | | |\n' "$scenario" "$hr" "$hp" "$hc"
  printf '| %s token | fngate | %.0f | %.2f | %.1f | **%sx** | %s, p99 <= haproxy: %s |\n' "$scenario" "$fr" "$fp" "$fc" \
    "$ratio" "$target" "$(awk -v a="$fp" -v b="$hp" 'BEGIN { print (a <= b) ? "yes" : "no" }')"
done
printf '\nIn-process Authenticator cost (no HTTP): %s\n' "$(echo "$micro" | tr '\n' ' ')"
if [ "$max_distinct_requests" -gt "$ntok" ]; then
  printf 'Note: a distinct-token round sent %s requests but only %s tokens exist; later ones were cache hits.\n' \
    "$max_distinct_requests" "$ntok"
fi
printf 'Raw wrk output: %s\n' "$work/wrk.log"
