#!/usr/bin/env bash
# FHIR figures through the gateway: `wardgate serve` (TLS, every pipeline phase, built-in
# departments on the embedded store) on 127.0.0.1, driven by wrk. Loopback only; stops
# what it started. Needs: a release build (`cargo build --release -p wardgate`), wrk, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=bench/departments
BIN=${WARDGATE_BIN:-target/release/wardgate}
PORT=${PORT:-18443}
DATA=$(mktemp -d /tmp/wg-gateway-bench.XXXXXX)
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT

# The default policy, with the per-address rate limits lifted: one load generator on one
# address would otherwise measure the rate limiter (429), not the departments.
sed -e 's/^rate_per_second = .*/rate_per_second = 1000000/' -e 's/^burst = .*/burst = 1000000/' \
    crates/policy/src/default-policy.toml > "$DATA/wardgate.toml"
"$BIN" serve -c "$DATA/wardgate.toml" --data "$DATA" --listen "127.0.0.1:$PORT" --admin 127.0.0.1:0 \
    > "$DATA/serve.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
    curl -ksf "https://127.0.0.1:$PORT/emergency/fhir/metadata" >/dev/null 2>&1 && break
    sleep 0.2
done
python3 "$HERE/load.py" "https://127.0.0.1:$PORT" "$DATA"
echo
for name in read search create; do
    echo "### wrk: $name (1 thread, 8 connections, 15 s)"
    wrk -t1 -c8 -d15s --latency -s "$HERE/wrk_$name.lua" "https://127.0.0.1:$PORT" -- "$DATA" \
        | grep -E 'Latency|50%|90%|99%|Requests/sec|Non-2xx|requests in'
    echo
done
python3 "$HERE/load.py" "https://127.0.0.1:$PORT" "$DATA" --transactions 30
