#!/usr/bin/env bash
# JWT-protected stock-response route: the fngate gateway (TOKEN_AUTHENTICATION, STATIC_KEYS JWK, RS256) vs
# HAProxy 2.6 `jwt_verify` (peers-and-baselines.md §4.3, answering itself instead of proxying, so both
# serve the same stock response after alg, signature, exp and aud checks), same token, same run.
# Scenarios: one repeated token (fngate's verified-token cache applies) and distinct tokens (every request
# pays a full RS256 verification; fngate's deployment is redeployed before each such round so no token of
# an earlier round is cached). wrk -t1 -c32, ROUNDS interleaved rounds of DURATION, medians; server CPU
# per request from /proc/<pid>/stat. HAProxy nbthread 1, fngate TOKIO_WORKER_THREADS=1.
# Env: ROUNDS (3), DURATION (4s), TOKENS (120000 distinct tokens, signed once and reused for 12 h).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
work="$root/bench/auth/.work"
mkdir -p "$work"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-4s}"
TOKENS="${TOKENS:-120000}"
HP_PORT=18482; GW_PORT=18483; ADMIN_PORT=18484

if [ "$(id -u)" = 0 ]; then
  missing=()
  for pair in haproxy:haproxy wrk:wrk curl:curl; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt)" >&2
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
export PATH="$PATH:/usr/sbin"
for tool in haproxy wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench/auth: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done

echo "building fngate and auth_bench (release)..." >&2
cargo build -q --release -p fngate -p fngate-auth --example auth_bench
bin="$root/target/release/fngate"
helper="$root/target/release/examples/auth_bench"

# Tokens expire after a day: re-sign when older than 12 h or too few.
if [ ! -f "$work/tokens.txt" ] || [ -n "$(find "$work/tokens.txt" -mmin +720)" ] \
   || [ "$(wc -l < "$work/tokens.txt")" -lt "$TOKENS" ]; then
  echo "signing $TOKENS distinct tokens..." >&2
  "$helper" prepare "$work" "$TOKENS"
fi

cat > "$work/haproxy-jwt.cfg" <<HAP
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
    http-request set-var(txn.bearer) http_auth_bearer
    http-request set-var(txn.jwt_alg) var(txn.bearer),jwt_header_query('\$.alg')
    http-request return status 401 content-type application/json string '{"message":"Unauthorized"}' hdr www-authenticate Bearer unless { var(txn.jwt_alg) -m str RS256 }
    http-request return status 401 content-type application/json string '{"message":"Unauthorized"}' hdr www-authenticate Bearer unless { var(txn.bearer),jwt_verify(txn.jwt_alg,"$work/rsa.pub") -m int 1 }
    http-request set-var(txn.now) date
    http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
    http-request return status 401 content-type application/json string '{"message":"Unauthorized"}' hdr www-authenticate Bearer if { var(txn.exp),sub(txn.now) -m int lt 0 } || !{ var(txn.bearer),jwt_payload_query('\$.aud') -m str api://fn-gateway }
    http-request return status 200 content-type application/json string '{"message":"Hello World"}'
HAP

jwk=$(sed -e 's/^{"keys":\[//' -e 's/\]}$//' "$work/jwks.json")
cat > "$work/spec.json" <<SPEC
{
  "loggingPolicies": {"accessLog": {"isEnabled": false}},
  "requestPolicies": {
    "authentication": {
      "type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "tokenAuthScheme": "Bearer",
      "validationPolicy": {
        "type": "STATIC_KEYS",
        "keys": [$(echo "$jwk" | sed 's/^{/{"format":"JSON_WEB_KEY",/')],
        "additionalValidationPolicy": {
          "issuers": ["https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
                      "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"],
          "audiences": ["api://fn-gateway"]
        }
      }
    }
  },
  "routes": [
    {"path": "/v1/bench", "methods": ["GET"],
     "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "{\"message\":\"Hello World\"}",
                 "headers": [{"name": "Content-Type", "value": "application/json"}]}}
  ]
}
SPEC

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_url() {
  for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "nothing answers at $1" >&2; exit 1
}

rm -rf "$work/data"
haproxy -f "$work/haproxy-jwt.cfg" >"$work/haproxy.log" 2>&1 & HP_PID=$!; pids+=("$HP_PID")
TOKIO_WORKER_THREADS=1 FNGATE_LOG=warn "$bin" up --data-dir "$work/data" \
  --gateway-addr 127.0.0.1:$GW_PORT --admin-addr 127.0.0.1:$ADMIN_PORT \
  --functions-addr 127.0.0.1:0 --idp-addr 127.0.0.1:0 >"$work/fngate.log" 2>&1 & GW_PID=$!; pids+=("$GW_PID")
wait_url "http://127.0.0.1:$HP_PORT/"; wait_url "http://127.0.0.1:$ADMIN_PORT/healthz"
deploy() {
  "$bin" gateway deploy --server "http://127.0.0.1:$ADMIN_PORT" --data-dir "$work/data" \
    --name authbench --path-prefix / --spec "$work/spec.json" >/dev/null
}
deploy

good="$(cat "$work/good.jwt")"
bad="$(cat "$work/bad.jwt")"
check() { # name port token expected
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' ${3:+-H "Authorization: Bearer $3"} "http://127.0.0.1:$2/v1/bench")
  [ "$code" = "$4" ] || { echo "correctness check failed: $1 on port $2 answered $code, expected $4" >&2; exit 1; }
}
for port in "$HP_PORT" "$GW_PORT"; do
  check good "$port" "$good" 200; check wrong-key "$port" "$bad" 401; check none "$port" "" 401
done
echo "correctness: both answer 200 for the good token, 401 for a wrong-key token and for no token" >&2

tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# run_wrk PID PORT MODE -> "rps p99_ms requests cpu_us_per_req"
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
  if echo "$out" | grep -q "Non-2xx\|Socket errors"; then
    echo "errors on port $port ($mode):" >&2; echo "$out" | grep "Non-2xx\|Socket" >&2; exit 1
  fi
  echo "$out" | awk -v ticks=$((after - before)) -v tck="$tck" '
    /Requests\/sec/ { rps = $2 }
    /requests in/ { reqs = $1 }
    $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                  p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
    END { printf "%s %.3f %d %.1f\n", rps, p99, reqs, (ticks / tck) * 1e6 / reqs }'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END { print a[int((NR + 1) / 2)] }'; }

: > "$work/wrk.log"
declare -A rps p99 cpu
max_distinct=0
for round in $(seq 1 "$ROUNDS"); do
  for scenario in repeated distinct; do
    for server in haproxy fngate; do
      if [ "$server" = haproxy ]; then pid=$HP_PID; port=$HP_PORT; else
        [ "$scenario" = distinct ] && deploy   # fresh policy: nothing from earlier rounds is cached
        pid=$GW_PID; port=$GW_PORT
      fi
      read -r r p n c < <(run_wrk "$pid" "$port" "$scenario")
      echo "round $round $scenario $server: $r req/s, p99 $p ms, $c us CPU/req ($n requests)" >&2
      rps[$server.$scenario]+="$r "; p99[$server.$scenario]+="$p "; cpu[$server.$scenario]+="$c "
      if [ "$scenario" = distinct ] && [ "$n" -gt "$max_distinct" ]; then max_distinct=$n; fi
    done
  done
done
ntok=$(wc -l < "$work/tokens.txt")
micro=$("$helper" micro "$work" | tr '\n' ' ')

printf '\n## JWT-protected stock response: fngate gateway vs HAProxy 2.6 jwt_verify (RS256, 2048-bit key)\n'
printf 'wrk -t1 -c32 -d%s, %s interleaved rounds, medians; one server thread each; %s CPUs (load %s)\n\n' \
  "$DURATION" "$ROUNDS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| scenario | server | req/s | p99 ms | server CPU us/req | fngate/haproxy req/s | target |\n'
printf '|---|---|---|---|---|---|---|\n'
for scenario in repeated distinct; do
  hr=$(echo "${rps[haproxy.$scenario]}" | median); fr=$(echo "${rps[fngate.$scenario]}" | median)
  hp=$(echo "${p99[haproxy.$scenario]}" | median); fp=$(echo "${p99[fngate.$scenario]}" | median)
  hc=$(echo "${cpu[haproxy.$scenario]}" | median); fc=$(echo "${cpu[fngate.$scenario]}" | median)
  ratio=$(awk -v a="$fr" -v b="$hr" 'BEGIN { printf "%.2f", a / b }')
  if [ "$scenario" = repeated ]; then target="2.00"; else target="1.00"; fi
  met=$(awk -v r="$ratio" -v t="$target" -v a="$fp" -v b="$hp" 'BEGIN { print (r >= t ? "met" : "MISSED") ", p99 " (a <= b ? "no worse" : "WORSE") }')
  printf '| %s token | haproxy | %.0f | %.2f | %.1f | | |\n' "$scenario" "$hr" "$hp" "$hc"
  printf '| %s token | fngate | %.0f | %.2f | %.1f | **%sx** | >= %sx: %s |\n' "$scenario" "$fr" "$fp" "$fc" "$ratio" "$target" "$met"
done
printf '\nAuthenticator alone, in-process (no HTTP), us per call: %s\n' "$micro"
if [ "$max_distinct" -gt "$ntok" ]; then
  printf 'Note: a distinct-token round sent %s requests but only %s tokens exist; the excess were cache hits.\n' \
    "$max_distinct" "$ntok"
fi
printf 'Raw wrk output: %s\n' "$work/wrk.log"
