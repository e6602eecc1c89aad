#!/usr/bin/env bash
# Department figures through the gateway: `wardgate serve` (TLS, every pipeline phase, the
# built-in departments on the embedded store) on 127.0.0.1, every request with the access
# token of a logged-in physician (password + TOTP, bench/common/login.py), as every clinical
# request must carry one. Loopback only; stops what it started.
#
#   bench/departments/through_gateway.sh       (from anywhere; DURATION=15 ROUNDS=20 PORT=18443)
#
# FHIR (emergency department): loading by PUT and transaction Bundles with load.py, read,
# search and create with wrk (p50/p99, requests/s). DICOMweb (radiology): STOW-RS and WADO-RS
# of the 24 files of testdata/dicom with dicom.py, side by side with Orthanc
# (../shared/peers/orthanc, plain HTTP; and a second one without fsync per file) in the same
# run, the same client, turn by turn: once one request after the other, once on
# DICOM_CONNECTIONS=4 connections per server at a time (a study's instances on one
# connection; DICOM_DEAL=instance spreads them over all four).
# Any answer outside 2xx fails the run. Needs: a release build (`cargo build --release -p
# wardgate`), wrk, python3, curl.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=bench/departments
BIN=${WARDGATE_BIN:-target/release/wardgate}
PORT=${PORT:-18443}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-20}
DICOM_CONNECTIONS=${DICOM_CONNECTIONS:-4}
DICOM_DEAL=${DICOM_DEAL:-study}
PEER=${PEER_DIR:-../shared/peers/orthanc}
export ORTHANC_HTTP_PORT=${ORTHANC_HTTP_PORT:-8062} ORTHANC_DICOM_PORT=${ORTHANC_DICOM_PORT:-4262}
export ORTHANC_STATE_DIR=${ORTHANC_STATE_DIR:-${TMPDIR:-/tmp}/wg-departments-gateway-orthanc}
ORTHANC_NOSYNC_HTTP_PORT=${ORTHANC_NOSYNC_HTTP_PORT:-$((ORTHANC_HTTP_PORT + 1))}
ORTHANC_NOSYNC_DICOM_PORT=${ORTHANC_NOSYNC_DICOM_PORT:-$((ORTHANC_DICOM_PORT + 1))}
URL="https://127.0.0.1:$PORT"
DATA=$(mktemp -d /tmp/wg-gateway-bench.XXXXXX)
PID= NOSYNC_PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ -n "$NOSYNC_PID" ]; then kill "$NOSYNC_PID" 2>/dev/null || true; wait "$NOSYNC_PID" 2>/dev/null || true; fi
  bash "$PEER/stop.sh" --purge >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap cleanup EXIT

echo "## $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# The default policy, with the per-address rate limits lifted: one load generator on one
# address would otherwise measure the rate limiter (429), not the departments.
sed -e 's/^rate_per_second = .*/rate_per_second = 1000000/' -e 's/^burst = .*/burst = 1000000/' \
    crates/policy/src/default-policy.toml > "$DATA/wardgate.toml"
"$BIN" serve -c "$DATA/wardgate.toml" --data "$DATA" --listen "127.0.0.1:$PORT" --admin 127.0.0.1:0 \
    --public-url "$URL" > "$DATA/serve.log" 2>&1 &
PID=$!
for _ in $(seq 150); do grep -q "wardgate is listening" "$DATA/serve.log" 2>/dev/null && break; sleep 0.2; done
grep -q "wardgate is listening" "$DATA/serve.log" || { echo "wardgate did not start:" >&2; tail -20 "$DATA/serve.log" >&2; exit 1; }

# A physician of the emergency and radiology departments (the CLI writes the same identity
# store the server reads), logged in once; each run then takes a fresh 5-minute token.
PASSWORD="department benchmark password 2026"
echo "$PASSWORD" | "$BIN" user add bench.physician --role physician --department emergency \
    --department radiology --password-stdin --data-dir "$DATA" --config "$DATA/wardgate.toml" \
    --issuer "$URL" > "$DATA/user.out"
python3 bench/common/login.py login --url "$URL" --ca "$DATA/ca.pem" --state "$DATA/refresh.json" \
    --user bench.physician --password "$PASSWORD" \
    --otpauth "$(grep -o 'otpauth://[^ ]*' "$DATA/user.out" | head -1)" > "$DATA/token"
fresh_token() {
  python3 bench/common/login.py refresh --url "$URL" --ca "$DATA/ca.pem" --state "$DATA/refresh.json" \
    > "$DATA/token.new"
  mv "$DATA/token.new" "$DATA/token"
}

python3 "$HERE/load.py" "$URL" "$DATA"
echo
failed=0
for name in read search create; do
  fresh_token
  echo "### wrk: $name (1 thread, 8 connections, ${DURATION} s)"
  wrk -t1 -c8 -d"${DURATION}s" --latency -s "$HERE/wrk_$name.lua" "$URL" -- "$DATA" > "$DATA/wrk-$name.txt"
  grep -E 'Latency|50%|99%|Requests/sec|requests in|Non-2xx|Socket errors|^figures|^first non-2xx' "$DATA/wrk-$name.txt"
  grep -q '^figures: .* non2xx=0 socket_errors=0$' "$DATA/wrk-$name.txt" || { echo "FAILED: $name had non-2xx answers or socket errors" >&2; failed=1; }
  echo
done
fresh_token
python3 "$HERE/load.py" "$URL" "$DATA" --transactions 30
echo

echo "### DICOMweb: STOW-RS then WADO-RS, wardgate (HTTPS, every pipeline phase, token) and Orthanc (plain HTTP, no authentication)"
bash "$PEER/start.sh" > /dev/null
# Orthanc 1.10 calls fsync() after every file it stores (SyncStorageArea, default true), the
# departments commit to SQLite in WAL mode with synchronous=NORMAL (no fsync per commit). So
# that STOW-RS is also compared closer to like for like on durability, a second Orthanc from
# the same configuration with SyncStorageArea=false (its own ports and storage; its index
# still syncs), started the way start.sh starts the first.
NOSYNC="$DATA/orthanc-nosync"
mkdir -p "$NOSYNC/db" "$NOSYNC/log"
python3 - "$ORTHANC_STATE_DIR/orthanc.json" "$NOSYNC" "$ORTHANC_NOSYNC_HTTP_PORT" "$ORTHANC_NOSYNC_DICOM_PORT" <<'PY'
import json, sys
config, state, http, dicom = sys.argv[1:]
c = json.load(open(config))
c.update(Name="peer-orthanc-nosync", StorageDirectory=state + "/db", IndexDirectory=state + "/db",
         HttpPort=int(http), DicomPort=int(dicom), SyncStorageArea=False)
json.dump(c, open(state + "/orthanc.json", "w"), indent=1)
PY
LD_PRELOAD="$ORTHANC_STATE_DIR/loopback-bind.so" setsid /usr/sbin/Orthanc --logdir="$NOSYNC/log" \
    "$NOSYNC/orthanc.json" > "$NOSYNC/orthanc.out" 2>&1 < /dev/null &
NOSYNC_PID=$!
for _ in $(seq 60); do curl -fsS --max-time 2 "http://127.0.0.1:$ORTHANC_NOSYNC_HTTP_PORT/system" >/dev/null 2>&1 && break; sleep 0.5; done
for connections in 1 "$DICOM_CONNECTIONS"; do
  fresh_token
  python3 "$HERE/dicom.py" --rounds "$ROUNDS" --connections "$connections" --deal "$DICOM_DEAL" \
      "wardgate=$URL/radiology/dicom-web,token=$DATA/token,ca=$DATA/ca.pem" \
      "orthanc=http://127.0.0.1:$ORTHANC_HTTP_PORT/dicom-web" \
      "orthanc-nosync=http://127.0.0.1:$ORTHANC_NOSYNC_HTTP_PORT/dicom-web"
  echo
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$failed"
