#!/usr/bin/env bash
# End-to-end firewall measurement: wardgate (release) and ModSecurity + CRS side by side, on
# the shared WAF corpora and the clinical set, then a throughput comparison on one clinical
# request. Loopback only; everything it starts, it stops.
#
#   bench/waf-e2e/run.sh            (from the repository root; needs ../shared beside it)
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
HERE="$ROOT/bench/waf-e2e"
rm -rf "$WORK" && mkdir -p "$WORK"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  PORT=$MODSEC_PORT "$SHARED/peers/modsecurity-crs/stop.sh" >/dev/null 2>&1 || true
}
trap cleanup EXIT

(cd "$ROOT" && cargo build --release -p wardgate)
WARDGATE="$ROOT/target/release/wardgate"

DEPARTMENTS='"lab-legacy", "emergency", "radiology", "laboratory", "pharmacy", "record"'
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
  $(for d in lab-legacy emergency radiology laboratory pharmacy record; do echo --department $d; done) \
  --password-stdin --data-dir "$WORK/data" --config "$WORK/wardgate.toml" >"$WORK/user.out"
OTPAUTH="$(grep -o 'otpauth://[^ ]*' "$WORK/user.out" | head -1)"
token() {
  python3 "$ROOT/bench/common/login.py" login --url "https://127.0.0.1:$GW_PORT" --ca "$CA" \
    --user bench.physician --password "$PASSWORD" --otpauth "$OTPAUTH"
}

python3 "$SHARED/tools/fhir_requests.py" "$SHARED/corpora/fhir" > "$WORK/clinical.jsonl"
DEV=("$SHARED"/corpora/waf/dev/*.jsonl)

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

echo "== throughput on one clinical search (wrk -t2 -c50 -d15s)"
TOKEN="$(token)"
REQ="/emergency/fhir/Patient?name=O%27Brien&_count=20"
echo "-- wardgate, HTTPS direct (TLS terminated by wardgate)"
wrk -t2 -c50 -d15s --latency -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$GW_PORT$REQ"
echo "-- ModSecurity + CRS, plain HTTP"
wrk -t2 -c50 -d15s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MODSEC_PORT$REQ"
echo "-- echo backend alone, plain HTTP (the upstream both forward to)"
wrk -t2 -c50 -d15s --latency "http://127.0.0.1:$ECHO_PORT$REQ"
