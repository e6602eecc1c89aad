#!/usr/bin/env bash
# End-to-end gateway benchmark: the same small upstream served directly, through nginx as a
# reverse proxy, and through wardgate, all three over TLS on loopback (like with like: the
# client always speaks HTTPS/1.1 with keep-alive; both proxies terminate TLS with the same
# certificate and forward plain HTTP/1.1 over pooled keep-alive connections; both write an
# access record per request to a file).
#
#   bench/gateway/run.sh [seconds-per-run]        (default 10; ROUNDS=3 rounds)
#   FIXED_SECONDS=30                              (length of each fixed-rate run, default 30)
#   FIXED_ROUNDS=N                                (rounds of the fixed-rate runs, default ROUNDS)
#   PIN=1                                         (the proxy alone on CPU 0, see below)
#   RT=1                                          (real-time priority for all, see below)
#
# The three targets are measured in turn, ROUNDS times, and the median of each is reported,
# so that a burst of other work on the machine does not land on one target only.
#
# Each request carries the access token of a logged-in account (bench/gateway/account.sh),
# as every clinical request does: wardgate verifies it, authorizes the read, inspects the
# request, forwards it and writes the exchange record. WARDGATE_RUNTIME (per-core, the
# default, or shared) is passed on to wardgate (docs/operations.md).
#
# Needs: wrk and nginx (Debian packages, installed with apt-get if missing), oha (cargo
# install oha, for the fixed-rate run). Prints requests/s and p50/p99 latency for each, the
# ratios wardgate/nginx and wardgate/direct, and the p99 latency wardgate adds at half of its
# saturation rate. The load generator shares the machine's cores with the servers: compare
# the ratios of one run, not absolute numbers across machines. It also prints each proxy's CPU
# time per request at saturation (user space and kernel, from /proc/PID/task/*/stat): on a
# machine where other work runs, requests/s moves with that work, CPU per request much less.
#
# The fixed-rate runs last FIXED_SECONDS (30 s by default): oha counts latency from when each
# request was due (--latency-correction), and its 50 connections and TLS handshakes are made
# after the clock starts, so the first ~50 ms build a backlog that every target then works
# off. In a 5 s run that backlog alone is more than 1% of the requests (measured: p99 25-33
# ms for direct, nginx and wardgate alike at 10,000 req/s over 5 s, against 1.3-8 ms over
# 30 s), so a short run measures connection setup, not the steady state.
#
# PIN=1 gives the proxy under test a core of its own: wardgate with one worker thread
# (WARDGATE_THREADS=1, every thread pinned to CPU 0) and nginx with one worker (pinned to CPU
# 0), while the upstream and the load generator (wrk -t1, oha) run on CPU 1. Needs 2 cores or
# more (taskset, from util-linux). Without it all of them share every core.
#
# RT=1 runs every process under test (wardgate, both nginx, the upstream) and the load
# generators at real-time round-robin priority (SCHED_RR 50, chrt from util-linux; needs root
# or CAP_SYS_NICE), so that other work on a shared machine (builds, other tests) cannot take
# their cores away in the middle of a run; they still share the cores with each other as
# above. Without it, on a machine where anything else runs, the p99 at a fixed rate measures
# that other work: measured on this project's 2-core VM during a build, the direct upstream's
# p99 at 16,000 req/s went from 10-34 ms to 0.7-1.3 ms with RT=1 (round-robin, not FIFO: a
# FIFO load generator that never blocks starves its own timer thread and never stops).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DURATION=${1:-10}
FIXED_SECONDS=${FIXED_SECONDS:-30}
ROUNDS=${ROUNDS:-3}
FIXED_ROUNDS=${FIXED_ROUNDS:-$ROUNDS}
CONNECTIONS=${CONNECTIONS:-50}
PIN=${PIN:-0}
RT=${RT:-0}
if [ "$PIN" = 1 ]; then
  THREADS=${THREADS:-1}
  export WARDGATE_THREADS=1
  LOADGEN=(taskset -c 1)
else
  THREADS=${THREADS:-2}
  LOADGEN=()
fi
# realtime PID: every thread of PID at the benchmark's real-time priority (RT=1 only).
realtime() { [ "$RT" = 1 ] && chrt -a -r -p 50 "$1" >/dev/null; return 0; }
[ "$RT" = 1 ] && LOADGEN+=(chrt -r 50)
UPSTREAM_PORT=${UPSTREAM_PORT:-28080}
DIRECT_PORT=${DIRECT_PORT:-28081}
NGINX_PORT=${NGINX_PORT:-28443}
WARDGATE_PORT=${WARDGATE_PORT:-28444}
ADMIN_PORT=${ADMIN_PORT:-29444}
PATH_UNDER_TEST=/bench/fhir/Patient/bench

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "installing ${need_apt[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if ! command -v oha >/dev/null; then
  echo "installing oha with cargo (once; a few minutes)" >&2
  cargo install oha --locked >/dev/null
fi

# WARDGATE=path: measure that binary instead of building this tree.
if [ -z "${WARDGATE:-}" ]; then
  echo "building wardgate (release)" >&2
  cargo build --release -q -p wardgate
  WARDGATE="$ROOT/target/release/wardgate"
fi

WORK=$(mktemp -d /tmp/wardgate-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/nginx-upstream.pid" ] && kill "$(cat "$WORK/nginx-upstream.pid")" 2>/dev/null || true
  [ -f "$WORK/nginx-proxy.pid" ] && kill "$(cat "$WORK/nginx-proxy.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- wardgate: its policy, its development CA (whose server certificate nginx uses too) ---
. "$ROOT/bench/gateway/account.sh"
bench_policy "$WARDGATE_PORT" "$ADMIN_PORT" "$UPSTREAM_PORT" "$WORK/wardgate-exchanges.jsonl" > "$WORK/wardgate.toml"
"$WARDGATE" check --config "$WORK/wardgate.toml" >"$WORK/check.txt" || { cat "$WORK/check.txt" >&2; exit 1; }
"$WARDGATE" serve --config "$WORK/wardgate.toml" --data "$WORK/data" >"$WORK/wardgate.out" 2>"$WORK/wardgate.err" &
pids+=($!)
[ "$PIN" = 1 ] && taskset -a -p 0x1 "$!" >/dev/null
WARDGATE_PID=$!
for _ in $(seq 100); do [ -f "$WORK/data/server-key.pem" ] && grep -q listening "$WORK/wardgate.out" 2>/dev/null && break; sleep 0.2; done
# Every clinical request carries an access token (an anonymous one is refused): so do these.
# All three targets get the same header, so the client sends the same bytes to each.
bench_account "$WARDGATE" "$WORK/data" "$WORK/wardgate.toml" "https://127.0.0.1:$WARDGATE_PORT"
TOKEN=$(bench_token)

# --- the upstream (nginx answering a small FHIR resource) and nginx as a reverse proxy ---
BODY='{"resourceType":"Patient","id":"bench","name":[{"family":"Benchmark"}]}'
cat > "$WORK/nginx-upstream.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx-upstream.pid;
error_log $WORK/nginx-upstream.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT;
    listen 127.0.0.1:$DIRECT_PORT ssl;
    ssl_certificate $WORK/data/server.pem;
    ssl_certificate_key $WORK/data/server-key.pem;
    location / { default_type application/fhir+json; return 200 '$BODY'; }
  }
}
NGINX
cat > "$WORK/nginx-proxy.conf" <<NGINX
worker_processes $([ "$PIN" = 1 ] && echo 1 || echo auto);
pid $WORK/nginx-proxy.pid;
error_log $WORK/nginx-proxy.err;
events { worker_connections 4096; }
http {
  access_log $WORK/nginx-access.log;
  keepalive_requests 1000000;
  upstream department { server 127.0.0.1:$UPSTREAM_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    http2 on;
    ssl_certificate $WORK/data/server.pem;
    ssl_certificate_key $WORK/data/server-key.pem;
    location /bench/ {
      proxy_pass http://department/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
NGINX
sed -i 's/^    http2 on;$//' "$WORK/nginx-proxy.conf"   # 1.22 has no "http2 on"; clients here speak HTTP/1.1
"$NGINX" -c "$WORK/nginx-upstream.conf" -p "$WORK" -g 'daemon on;'
"$NGINX" -c "$WORK/nginx-proxy.conf" -p "$WORK" -g 'daemon on;'
if [ "$PIN" = 1 ]; then
  sleep 0.3
  for worker in $(pgrep -P "$(cat "$WORK/nginx-proxy.pid")"); do taskset -p 0x1 "$worker" >/dev/null; done
  for worker in $(pgrep -P "$(cat "$WORK/nginx-upstream.pid")"); do taskset -p 0x2 "$worker" >/dev/null; done
fi
if [ "$RT" = 1 ]; then
  sleep 0.3
  # wardgate's threads now (its workers have started), and nginx's master and workers.
  realtime "$WARDGATE_PID"
  for master in "$(cat "$WORK/nginx-proxy.pid")" "$(cat "$WORK/nginx-upstream.pid")"; do
    realtime "$master"
    for worker in $(pgrep -P "$master"); do realtime "$worker"; done
  done
fi
sleep 0.5
for port in $DIRECT_PORT $NGINX_PORT $WARDGATE_PORT; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/data/ca.pem" -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$port$PATH_UNDER_TEST")
  [ "$code" = 200 ] || { echo "port $port answered $code" >&2; cat "$WORK/wardgate.err" >&2; exit 1; }
done

# wrk prints latency as 812.00us / 1.23ms / 1.02s: convert to milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}'; }

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# proxy_ticks NAME: "user system" clock ticks used so far by every thread of the proxy under
# test (wardgate's process; nginx's master and workers), from /proc; "0 0" for direct.
proxy_ticks() {
  local pids
  case $1 in
    wardgate) pids=$WARDGATE_PID ;;
    nginx) pids="$(cat "$WORK/nginx-proxy.pid") $(pgrep -P "$(cat "$WORK/nginx-proxy.pid")" | tr '\n' ' ')" ;;
    *) echo "0 0"; return ;;
  esac
  # The comm field may hold spaces: count the fields after its closing parenthesis.
  for pid in $pids; do cat /proc/"$pid"/task/*/stat 2>/dev/null; done |
    awk '{sub(/^.*\) /, ""); u += $12; s += $13} END {print u + 0, s + 0}'
}
CLK_TCK=$(getconf CLK_TCK)

# One saturation run with wrk: "rps p50_ms p99_ms user_us sys_us", the last two the proxy's CPU
# time per request over the run (user space and kernel; 0 for direct). Unlike requests/s, CPU
# per request hardly moves when other work takes the proxy's core away for a while.
saturate() {
  local name=$1 port=$2 round=$3 out before after
  # Tokens live 5 minutes: a fresh one for each run.
  TOKEN=$(bench_token)
  before=$(proxy_ticks "$name")
  out=$("${LOADGEN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$port$PATH_UNDER_TEST")
  after=$(proxy_ticks "$name")
  echo "$out" > "$WORK/wrk-$name-$round.txt"
  if echo "$out" | grep -q "Non-2xx"; then echo "$name: non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
  echo "$(echo "$out" | awk '/^Requests\/sec:/ {print $2}') $(echo "$out" | awk '$1=="50%" {print $2}' | to_ms) $(echo "$out" | awk '$1=="99%" {print $2}' | to_ms)" \
    "$(echo "$out" | awk -v b="$before" -v a="$after" -v hz="$CLK_TCK" '/ requests in / {
        split(b, x, " "); split(a, y, " ");
        printf "%.2f %.2f", (y[1] - x[1]) / hz * 1e6 / $1, (y[2] - x[2]) / hz * 1e6 / $1 }')"
}

# One fixed-rate run with oha: "p50_ms p99_ms".
fixed_rate() {
  local name=$1 port=$2 rate=$3 round=$4 json
  TOKEN=$(bench_token)
  json=$("${LOADGEN[@]}" oha --no-tui --insecure --http-version 1.1 --output-format json -z "${FIXED_SECONDS}s" -c "$CONNECTIONS" -q "$rate" --latency-correction -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$port$PATH_UNDER_TEST")
  echo "$json" > "$WORK/oha-$name-$round.json"
  echo "$json" | python3 -c 'import json,sys; p=json.load(sys.stdin)["latencyPercentiles"]; print("%.3f %.3f" % (p["p50"]*1000, p["p99"]*1000))'
}

declare -A RPS P50 P99 FIXED_P50 FIXED_P99 CPU_USER CPU_SYS
TARGETS=("direct $DIRECT_PORT" "nginx $NGINX_PORT" "wardgate $WARDGATE_PORT")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
  for target in "${TARGETS[@]}"; do
    set -- $target
    saturate "$1" "$2" "$round" >> "$WORK/sat-$1.txt"
  done
done
for name in direct nginx wardgate; do
  RPS[$name]=$(awk '{print $1}' "$WORK/sat-$name.txt" | median)
  P50[$name]=$(awk '{print $2}' "$WORK/sat-$name.txt" | median)
  P99[$name]=$(awk '{print $3}' "$WORK/sat-$name.txt" | median)
  CPU_USER[$name]=$(awk '{print $4}' "$WORK/sat-$name.txt" | median)
  CPU_SYS[$name]=$(awk '{print $5}' "$WORK/sat-$name.txt" | median)
done
HALF=$(awk -v r="${RPS[wardgate]}" 'BEGIN {printf "%d", r/2}')
for round in $(seq "$FIXED_ROUNDS"); do
  for target in "${TARGETS[@]}"; do
    set -- $target
    fixed_rate "$1" "$2" "$HALF" "$round" >> "$WORK/fixed-$1.txt"
  done
done
for name in direct nginx wardgate; do
  FIXED_P50[$name]=$(awk '{print $1}' "$WORK/fixed-$name.txt" | median)
  FIXED_P99[$name]=$(awk '{print $2}' "$WORK/fixed-$name.txt" | median)
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(uname -sr)"
echo "load: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency (saturation); oha -c$CONNECTIONS -q $HALF -z ${FIXED_SECONDS}s --latency-correction (fixed rate = half of wardgate's saturation)"
echo "all over TLS (HTTPS/1.1 keep-alive); GET $PATH_UNDER_TEST -> ${#BODY}-byte JSON; median of $ROUNDS rounds ($FIXED_ROUNDS at the fixed rate)"
echo "each request carries an access token (Authorization: Bearer, ~1 KB); wardgate runtime: ${WARDGATE_RUNTIME:-per-core}$([ "$PIN" = 1 ] && echo ", PIN=1: wardgate (1 worker) and nginx (1 worker) alone on CPU 0; upstream, wrk and oha on CPU 1")$([ "$RT" = 1 ] && echo ", RT=1: servers and load generators at SCHED_RR 50"), commit $(git rev-parse --short HEAD)$(git diff --quiet -- crates || echo '+changes')"
echo "load average before: $LOAD_BEFORE, after: $LOAD_AFTER (other work on the machine skews every number)"
echo
printf "| %-9s | %10s | %8s | %8s | %14s | %14s |\n" target "req/s" "p50 ms" "p99 ms" "p50 ms @$HALF/s" "p99 ms @$HALF/s"
printf "|%s|%s|%s|%s|%s|%s|\n" "-----------" "------------" "----------" "----------" "----------------" "----------------"
for name in direct nginx wardgate; do
  printf "| %-9s | %10s | %8s | %8s | %14s | %14s |\n" "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "${FIXED_P50[$name]}" "${FIXED_P99[$name]}"
done
echo
echo "throughput wardgate/nginx:  $(ratio "${RPS[wardgate]}" "${RPS[nginx]}")"
echo "throughput wardgate/direct: $(ratio "${RPS[wardgate]}" "${RPS[direct]}")"
echo "p99 added by wardgate at $HALF req/s (wardgate - direct): $(awk -v a="${FIXED_P99[wardgate]}" -v b="${FIXED_P99[direct]}" 'BEGIN {printf "%.3f ms", a-b}')"
echo "p99 added by nginx    at $HALF req/s (nginx - direct):    $(awk -v a="${FIXED_P99[nginx]}" -v b="${FIXED_P99[direct]}" 'BEGIN {printf "%.3f ms", a-b}')"
for name in direct nginx wardgate; do
  echo "p99 ms @$HALF/s per round, $name: $(awk '{printf "%s ", $2}' "$WORK/fixed-$name.txt")"
done
for name in nginx wardgate; do
  echo "CPU per request at saturation, $name: user ${CPU_USER[$name]} us + system ${CPU_SYS[$name]} us (median; per round: $(awk '{printf "%s+%s ", $4, $5}' "$WORK/sat-$name.txt"))"
done
echo "CPU per request wardgate/nginx: user $(ratio "${CPU_USER[wardgate]}" "${CPU_USER[nginx]}"), user + system $(awk -v a="${CPU_USER[wardgate]}" -v b="${CPU_SYS[wardgate]}" -v c="${CPU_USER[nginx]}" -v d="${CPU_SYS[nginx]}" 'BEGIN {printf "%.2f", (a + b) / (c + d)}')"
echo "wardgate exchange records written: $(wc -l < "$WORK/wardgate-exchanges.jsonl")"
