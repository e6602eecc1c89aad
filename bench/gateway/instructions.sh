#!/usr/bin/env bash
# CPU instructions per proxied request, counted by callgrind: a number that does not depend on
# how busy the machine is (unlike requests/s), so a change to the gateway's per-request cost
# shows even on a shared 2-core machine.
#
#   bench/gateway/instructions.sh [requests]      (default 2000)
#   WARDGATE=/path/to/wardgate bench/gateway/instructions.sh   (a given build instead)
#   WARDGATE_RUNTIME=shared ...                   (the runtime model, see docs/operations.md)
#
# The release wardgate runs under `valgrind --tool=callgrind` with instrumentation off while
# it starts (key generation and the demo accounts' password hashing are not per-request
# cost). Then, for N and for 2N requests, each sent by one curl over one HTTPS/1.1 keep-alive
# connection (GET /bench/fhir/Patient/bench, forwarded to a local nginx over plain HTTP with
# pooled connections, one exchange record per request in a file; each request carries the
# access token of a logged-in account, as every clinical request does), the counters are zeroed,
# the requests sent, and the counters dumped. The instructions per request are
#
#   (instructions for 2N requests - instructions for N requests) / N
#
# which cancels what each run pays once (the TLS handshake, the connection setup). The
# heaviest functions of the 2N run (inclusive) are printed too, and the dumps are kept in
# $KEEP (default: a temporary folder, removed) for callgrind_annotate.
#
# SYSCALLS=1 then counts system calls per proxied request the same way, with both proxies run
# natively (not under valgrind) with one worker each: `strace -f -c` attached to wardgate's
# process and to nginx's worker while N and then 2N requests go over one keep-alive connection,
# per request = (calls for 2N - calls for N) / N, by syscall (and the calls that failed, such
# as reads answered EAGAIN). Then, under load, `perf stat -e raw_syscalls:sys_enter` over each
# proxy while `wrk -t1 -c50 -d5s` runs: syscalls and context switches per request as the
# event loop batches them (this part depends on the machine's load; the strace part does not).
#
# Needs valgrind, nginx (Debian packages, installed with apt-get if missing) and curl; with
# SYSCALLS=1 also strace, wrk and perf.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
N=${1:-2000}
UPSTREAM_PORT=${UPSTREAM_PORT:-28090}
WARDGATE_PORT=${WARDGATE_PORT:-28454}
ADMIN_PORT=${ADMIN_PORT:-29454}
PATH_UNDER_TEST=/bench/fhir/Patient/bench

need_apt=()
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
if [ "${SYSCALLS:-0}" = 1 ]; then
  command -v strace >/dev/null || need_apt+=(strace)
  command -v wrk >/dev/null || need_apt+=(wrk)
  command -v perf >/dev/null || need_apt+=(linux-perf)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "installing ${need_apt[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# WARDGATE=path: count that binary instead of building this tree (to compare two builds).
if [ -z "${WARDGATE:-}" ]; then
  echo "building wardgate (release)" >&2
  cargo build --release -q -p wardgate
  WARDGATE="$ROOT/target/release/wardgate"
  BUILT_FROM="built from this tree at $(git rev-parse --short HEAD)$(git diff --quiet -- crates || echo '+changes')"
else
  # A given build: which tree it came from is not known here; its digest and date name it.
  BUILT_FROM="a given build (sha256 $(sha256sum "$WARDGATE" | cut -c1-12), $(date -u -r "$WARDGATE" '+%Y-%m-%d %H:%M UTC'); this tree is at $(git rev-parse --short HEAD))"
fi

WORK=${KEEP:-$(mktemp -d /tmp/wardgate-instructions.XXXXXX)}
mkdir -p "$WORK"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/nginx-upstream.pid" ] && kill "$(cat "$WORK/nginx-upstream.pid")" 2>/dev/null || true
  sleep 0.5
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

. bench/gateway/account.sh
bench_policy "$WARDGATE_PORT" "$ADMIN_PORT" "$UPSTREAM_PORT" "$WORK/wardgate-exchanges.jsonl" > "$WORK/wardgate.toml"

BODY='{"resourceType":"Patient","id":"bench","name":[{"family":"Benchmark"}]}'
cat > "$WORK/nginx-upstream.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx-upstream.pid;
error_log $WORK/nginx-upstream.err;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT;
    location / { default_type application/fhir+json; return 200 '$BODY'; }
  }
}
NGINX
"$NGINX" -c "$WORK/nginx-upstream.conf" -p "$WORK" -g 'daemon on;'

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out" \
  "$WARDGATE" serve --config "$WORK/wardgate.toml" --data "$WORK/data" \
  >"$WORK/wardgate.out" 2>"$WORK/wardgate.err" &
pids+=($!)
VG_PID=$!
for _ in $(seq 600); do grep -q listening "$WORK/wardgate.out" 2>/dev/null && break; sleep 0.5; done
grep -q listening "$WORK/wardgate.out" || { echo "wardgate did not start" >&2; cat "$WORK/wardgate.err" >&2; exit 1; }

URL="https://127.0.0.1:$WARDGATE_PORT$PATH_UNDER_TEST"
NGINX_PORT=${NGINX_PORT:-28455}
bench_account "$WARDGATE" "$WORK/data" "$WORK/wardgate.toml" "https://127.0.0.1:$WARDGATE_PORT"
TOKEN=$(bench_token)
# One curl, one connection, `count` requests; every answer must be 200.
send() {
  local count=$1 url=${2:-$URL} codes
  for _ in $(seq "$count"); do printf 'url = "%s"\noutput = /dev/null\n' "$url"; done > "$WORK/curl.conf"
  codes=$(curl -s --http1.1 --cacert "$WORK/data/ca.pem" -H "Authorization: Bearer $TOKEN" -K "$WORK/curl.conf" -w '%{http_code} %{num_connects}\n' | sort | uniq -c)
  # The first request connects (num_connects 1), the others reuse the connection.
  echo "$codes" | grep -q " 200 1$" || { echo "unexpected answers: $codes" >&2; exit 1; }
  [ "$(echo "$codes" | grep -v ' 200 [01]$' | wc -l)" = 0 ] || { echo "unexpected answers: $codes" >&2; exit 1; }
}

callgrind_control -i on "$VG_PID" >/dev/null 2>&1
send 20 # warm up: pooled upstream connections, lazily built state
measure() {
  local count=$1 tag=$2 pid=${3:-$VG_PID} url=${4:-$URL} out=${5:-$WORK/callgrind.out}
  callgrind_control -z "$pid" >/dev/null 2>&1
  send "$count" "$url"
  sleep 0.5 # the last exchange record is written after the response
  callgrind_control -d "$tag" "$pid" >/dev/null 2>&1
  # The newest dump is this tag's.
  local file
  file=$(ls -t "$out".* | head -n1)
  cp "$file" "$WORK/$tag.out"
  awk '/^(summary|totals):/ {print $2; exit}' "$file"
}
ONE=$(measure "$N" single)
TWO=$(measure $((2 * N)) double)
PER_REQUEST=$(( (TWO - ONE) / N ))

# The same for nginx as the reverse proxy (one worker, TLS with the same certificate, pooled
# keep-alive connections to the same upstream, an access log line per request): the peer's
# cost per request, counted the same way.
cat > "$WORK/nginx-proxy.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx-proxy.pid;
error_log $WORK/nginx-proxy.err;
events { worker_connections 1024; }
http {
  access_log $WORK/nginx-access.log;
  keepalive_requests 1000000;
  upstream department { server 127.0.0.1:$UPSTREAM_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
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
valgrind --tool=callgrind --callgrind-out-file="$WORK/nginx.out" \
  "$NGINX" -c "$WORK/nginx-proxy.conf" -p "$WORK" >"$WORK/nginx-vg.out" 2>&1 &
pids+=($!)
NGINX_VG=$!
NGINX_URL="https://127.0.0.1:$NGINX_PORT$PATH_UNDER_TEST"
for _ in $(seq 100); do curl -s -o /dev/null --cacert "$WORK/data/ca.pem" "$NGINX_URL" && break; sleep 0.3; done
send 20 "$NGINX_URL"
NGINX_ONE=$(measure "$N" nginx-single "$NGINX_VG" "$NGINX_URL" "$WORK/nginx.out")
NGINX_TWO=$(measure $((2 * N)) nginx-double "$NGINX_VG" "$NGINX_URL" "$WORK/nginx.out")
NGINX_PER_REQUEST=$(( (NGINX_TWO - NGINX_ONE) / N ))

echo
echo "$WARDGATE, $BUILT_FROM; $(valgrind --version); curl over one HTTPS/1.1 keep-alive connection"
echo "instructions for $N requests:  $ONE"
echo "instructions for $((2 * N)) requests: $TWO"
echo "instructions per request:     $PER_REQUEST"
echo "exchange records written:     $(wc -l < "$WORK/wardgate-exchanges.jsonl")"
echo "nginx $("$NGINX" -v 2>&1 | cut -d/ -f2) as the reverse proxy, instructions per request: $NGINX_PER_REQUEST"
echo "wardgate / nginx:             $(awk -v a="$PER_REQUEST" -v b="$NGINX_PER_REQUEST" 'BEGIN {printf "%.1f", a/b}')"
echo
echo "heaviest functions over $((2 * N)) requests (inclusive instructions):"
callgrind_annotate --inclusive=yes "$WORK/double.out" 2>/dev/null \
  | awk -v top="${TOP:-40}" '/^-+$/ {sep++} sep>=2 && NF>1 && $1 ~ /[0-9]/ && shown++ < top'


[ "${SYSCALLS:-0}" = 1 ] || exit 0

# ---- system calls per request, both proxies native, one worker each ----
kill "$VG_PID" "$NGINX_VG" 2>/dev/null || true
wait "$VG_PID" "$NGINX_VG" 2>/dev/null || true
WARDGATE_THREADS=1 "$WARDGATE" serve --config "$WORK/wardgate.toml" --data "$WORK/data" \
  >"$WORK/wardgate-native.out" 2>"$WORK/wardgate-native.err" &
pids+=($!)
WG_NATIVE=$!
for _ in $(seq 100); do grep -q listening "$WORK/wardgate-native.out" 2>/dev/null && break; sleep 0.2; done
"$NGINX" -c "$WORK/nginx-proxy.conf" -p "$WORK" >"$WORK/nginx-native.out" 2>&1 &
pids+=($!)
NGINX_NATIVE=$! # master_process off: this process is the worker
for _ in $(seq 100); do curl -s -o /dev/null --cacert "$WORK/data/ca.pem" "$NGINX_URL" && break; sleep 0.2; done
TOKEN=$(bench_token) # the first may have expired while callgrind ran
send 20
send 20 "$NGINX_URL"
# strace -c's table as "name calls errors" lines, sorted by name.
strace_count() {
  local count=$1 url=$2 pid=$3 tag=$4 st
  strace -f -c -p "$pid" -o "$WORK/$tag.strace" 2>/dev/null &
  st=$!
  sleep 1 # attached to every thread
  send "$count" "$url"
  sleep 0.5
  kill -INT "$st"
  wait "$st" 2>/dev/null || true
  awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {print $NF, $4, (NF == 6 ? $5 : 0)}' "$WORK/$tag.strace" | sort > "$WORK/$tag.tab"
}
per_request_calls() {
  join -a1 -a2 -e0 -o 0,1.2,1.3,2.2,2.3 "$WORK/$1.tab" "$WORK/$2.tab" | awk -v n="$N" '
    { c = ($4 - $2) / n; e = ($5 - $3) / n; t += c
      if (c > 0.005 || c < -0.005) printf "  %-14s %6.2f   failed %.2f\n", $1, c, e }
    END { printf "  %-14s %6.2f\n", "all", t }'
}
under_load() {
  local url=$1 pid=$2 tag=$3 pf requests calls switches
  perf stat -e raw_syscalls:sys_enter,context-switches -p "$pid" -o "$WORK/$tag.perf" -- sleep 6 &
  pf=$!
  sleep 0.3
  wrk -t1 -c50 -d5s -H "Authorization: Bearer $TOKEN" "$url" > "$WORK/$tag.wrk"
  wait "$pf"
  requests=$(awk '/requests in/ {print $1}' "$WORK/$tag.wrk")
  calls=$(awk '/raw_syscalls/ {gsub(",", "", $1); print $1}' "$WORK/$tag.perf")
  switches=$(awk '/context-switches/ {gsub(",", "", $1); print $1}' "$WORK/$tag.perf")
  awk -v t="$tag" -v r="$requests" -v c="$calls" -v s="$switches" \
    'BEGIN {printf "  %-9s %d requests: %.2f syscalls, %.3f context switches per request\n", t, r, c / r, s / r}'
}
strace_count "$N" "$URL" "$WG_NATIVE" wg-single
strace_count $((2 * N)) "$URL" "$WG_NATIVE" wg-double
strace_count "$N" "$NGINX_URL" "$NGINX_NATIVE" ng-single
strace_count $((2 * N)) "$NGINX_URL" "$NGINX_NATIVE" ng-double
echo
echo "syscalls per request (strace -f -c, (2N - N) / N, N=$N, one keep-alive connection, one worker each):"
echo "wardgate:"
per_request_calls wg-single wg-double
echo "nginx:"
per_request_calls ng-single ng-double
echo "under load (wrk -t1 -c50 -d5s; perf stat -e raw_syscalls:sys_enter,context-switches on the proxy):"
under_load "$URL" "$WG_NATIVE" wardgate
under_load "$NGINX_URL" "$NGINX_NATIVE" nginx
