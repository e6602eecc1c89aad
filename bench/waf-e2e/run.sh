#!/usr/bin/env bash
# End-to-end firewall measurement: wardgate (release) and ModSecurity + CRS side by side, on
# the shared WAF corpora and the clinical set, then a throughput comparison on one clinical
# request. Loopback only; everything it starts, it stops.
#
#   bench/waf-e2e/run.sh            (from the repository root; needs ../shared beside it)
#   SKIP_CORPORA=1 bench/waf-e2e/run.sh   (the throughput comparison only)
#
# waf_eval.py speaks plain HTTP only and wardgate listens on HTTPS only, so the evaluator
# talks to a socat hop that originates TLS to wardgate (verifying the development CA). The
# requests are anonymous in the corpora: transform.py prefixes them with the `lab-legacy`
# department (a plain upstream: the echo backend) and adds the access token of a real login
# (bench/common/login.py: password + TOTP), so authorization lets them through and the
# firewall decides.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
WORK="${WORK:-/tmp/wardgate-waf-e2e}"
GW_PORT=18443 ADMIN_PORT=19443 HOP_PORT=18444 ECHO_PORT=18091 MODSEC_PORT=18080
# The throughput comparison puts both firewalls in front of nginx answering 200 at once, so
# that the backend (the Python echo tops out near 3,000 requests/s) does not cap either.
FAST_PORT=18092 MODSEC_FAST_PORT=18082
HERE="$ROOT/bench/waf-e2e"
rm -rf "$WORK" && mkdir -p "$WORK"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  PORT=$MODSEC_PORT "$SHARED/peers/modsecurity-crs/stop.sh" >/dev/null 2>&1 || true
  PORT=$MODSEC_FAST_PORT BACKEND_PORT=$FAST_PORT WORKDIR="$WORK/modsec-fast" "$SHARED/peers/modsecurity-crs/stop.sh" >/dev/null 2>&1 || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

(cd "$ROOT" && cargo build --release -p wardgate)
WARDGATE="$ROOT/target/release/wardgate"

DEPARTMENTS='"lab-legacy", "emergency", "radiology", "laboratory", "pharmacy", "record", "fast"'
{
  cat <<TOML
version = 1
[listen]
public = "127.0.0.1:$GW_PORT"
admin = "127.0.0.1:$ADMIN_PORT"
[limits]
max_body_bytes = "4 MiB"
[rate_limit]
rate_per_second = 1000000
burst = 1000000
[zones.clinical]
description = "Clinical workstations"
[waf]
mode = "block"
paranoia = 1
TOML
  for d in lab-legacy emergency radiology laboratory pharmacy record; do
    printf '[departments.%s]\nprefix = "/%s/"\nupstream = "http://127.0.0.1:%s"\nzones = ["clinical"]\n' "$d" "$d" "$ECHO_PORT"
  done
  printf '[departments.fast]\nprefix = "/fast/"\nupstream = "http://127.0.0.1:%s"\nzones = ["clinical"]\n' "$FAST_PORT"
  cat <<TOML
[roles.physician]
scopes = ["user/*.cruds"]
departments = [$DEPARTMENTS]
[operations.everything]
roles = ["physician"]
permission = "r"
[operations.validate]
roles = ["physician"]
permission = "c"
[operations.export]
roles = ["physician"]
[operations.lookup]
roles = ["physician"]
[audit]
log = "$WORK/exchanges.jsonl"
TOML
} > "$WORK/wardgate.toml"
"$WARDGATE" check --config "$WORK/wardgate.toml"

python3 "$SHARED/tools/echo_backend.py" --port "$ECHO_PORT" >/dev/null 2>&1 &
pids+=($!)
"$WARDGATE" serve --config "$WORK/wardgate.toml" --data "$WORK/data" \
  --public-url "https://127.0.0.1:$GW_PORT" >"$WORK/serve.out" 2>"$WORK/serve.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "wardgate is listening" "$WORK/serve.out" 2>/dev/null && break; sleep 0.2; done
CA="$WORK/data/ca.pem"
socat "TCP-LISTEN:$HOP_PORT,bind=127.0.0.1,fork,reuseaddr" \
  "OPENSSL:127.0.0.1:$GW_PORT,cafile=$CA,commonname=localhost" &
pids+=($!)

# A measurement account (the CLI writes the same identity store the server reads).
PASSWORD="bench physician password 2026"
echo "$PASSWORD" | "$WARDGATE" user add bench.physician --role physician \
  $(for d in lab-legacy emergency radiology laboratory pharmacy record fast; do echo --department $d; done) \
  --password-stdin --data-dir "$WORK/data" --config "$WORK/wardgate.toml" >"$WORK/user.out"
OTPAUTH="$(grep -o 'otpauth://[^ ]*' "$WORK/user.out" | head -1)"
token() {
  python3 "$ROOT/bench/common/login.py" login --url "https://127.0.0.1:$GW_PORT" --ca "$CA" \
    --user bench.physician --password "$PASSWORD" --otpauth "$OTPAUTH"
}

python3 "$SHARED/tools/fhir_requests.py" "$SHARED/corpora/fhir" > "$WORK/clinical.jsonl"
DEV=("$SHARED"/corpora/waf/dev/*.jsonl)

if [ "${SKIP_CORPORA:-0}" != 1 ]; then
echo "== wardgate (through the TLS hop), each corpus with a fresh 5-minute token"
for corpus in "${DEV[@]}" "$WORK/clinical.jsonl"; do
  name="$(basename "$corpus" .jsonl)"
  prefix=(--prefix /lab-legacy)
  [ "$name" = clinical ] && prefix=()
  python3 "$HERE/transform.py" "${prefix[@]}" --token "$(token)" "$corpus" > "$WORK/wg-$name.jsonl"
  echo "-- wardgate $name"
  python3 "$SHARED/tools/waf_eval.py" --url "http://127.0.0.1:$HOP_PORT" \
    --results "$WORK/wg-$name.results.jsonl" "$WORK/wg-$name.jsonl" | tail -n 25
done

echo "== ModSecurity + CRS (PL1)"
PORT=$MODSEC_PORT "$SHARED/peers/modsecurity-crs/start.sh" | tail -1
for corpus in "${DEV[@]}" "$WORK/clinical.jsonl"; do
  name="$(basename "$corpus" .jsonl)"
  echo "-- modsecurity $name (as published)"
  python3 "$SHARED/tools/waf_eval.py" --url "http://127.0.0.1:$MODSEC_PORT" "$corpus" | tail -n 25
  echo "-- modsecurity $name (as sent to wardgate: prefix and token)"
  python3 "$SHARED/tools/waf_eval.py" --url "http://127.0.0.1:$MODSEC_PORT" "$WORK/wg-$name.jsonl" | tail -n 1
done
fi

echo "== throughput on one clinical search (wrk -t2 -c50 -d15s), both firewalls in front of nginx"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$FAST_PORT;
    location / { default_type application/fhir+json; return 200 '{"resourceType":"Bundle","type":"searchset","total":0}'; }
  }
}
NGINX
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" -g 'daemon on;'
# A second ModSecurity + CRS (same rules, PL1) whose backend is that nginx: its own Python
# backend cannot bind the port nginx holds, so Apache proxies to nginx.
PORT=$MODSEC_FAST_PORT BACKEND_PORT=$FAST_PORT WORKDIR="$WORK/modsec-fast" \
  "$SHARED/peers/modsecurity-crs/start.sh" | tail -1
TOKEN="$(token)"
REQ="/fast/fhir/Patient?name=O%27Brien&_count=20"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "-- wardgate, HTTPS (TLS terminated by wardgate), every phase, -> nginx"
wrk -t2 -c50 -d15s --latency -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$GW_PORT$REQ" | tee "$WORK/wrk-wardgate.txt"
echo "-- ModSecurity + CRS, plain HTTP -> nginx"
wrk -t2 -c50 -d15s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MODSEC_FAST_PORT$REQ" | tee "$WORK/wrk-modsec.txt"
echo "-- nginx alone, plain HTTP (the upstream both forward to)"
wrk -t2 -c50 -d15s --latency "http://127.0.0.1:$FAST_PORT$REQ" | tee "$WORK/wrk-nginx.txt"
for f in wardgate modsec; do
  if grep -q "Non-2xx" "$WORK/wrk-$f.txt"; then echo "$f answered non-2xx: not a throughput figure" >&2; exit 1; fi
done
rps() { awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk-$1.txt"; }
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "throughput wardgate/modsecurity: $(awk -v a="$(rps wardgate)" -v b="$(rps modsec)" 'BEGIN {printf "%.2f", a/b}')"
