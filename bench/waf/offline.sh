#!/usr/bin/env bash
# Offline figures of the inspection engine (no network): detection and false positives on the
# developer corpora and the clinical set, wall time per request, instructions per request under
# callgrind, and the criterion benchmark. Prints everything; bench/results/waf-*.md records it.
#
#   bench/waf/offline.sh            (from the repository root; needs ../shared beside it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
cd "$ROOT"
echo "== machine"
uname -srm; nproc; grep -m1 'model name' /proc/cpuinfo; uptime

cargo build --release -p wardgate -p wardgate-waf --example inspect_set --example verdict_dump
WG=target/release/wardgate

echo "== detection and false positives, developer corpora (PL1)"
"$WG" waf scan "$SHARED"/corpora/waf/dev/*.jsonl
for pl in 2 3 4; do
  echo "-- PL$pl: $("$WG" waf scan --paranoia $pl "$SHARED"/corpora/waf/dev/*.jsonl | tail -1)"
done
echo "-- as if on a FHIR route: $("$WG" waf scan --fhir-route "$SHARED"/corpora/waf/dev/*.jsonl | tail -1)"

echo "== clinical set (every resource as create and update, every Bundle, every request)"
"$WG" waf scan "$SHARED"/corpora/fhir | tail -1
for pl in 2 3 4; do
  echo "-- PL$pl: $("$WG" waf scan --false-positives --paranoia $pl "$SHARED"/corpora/fhir | tail -4)"
done

echo "== wall time per request (best of 5 per request, one core)"
target/release/examples/inspect_set clinical
target/release/examples/inspect_set attacks
target/release/examples/inspect_set typical

echo "== instructions (callgrind, inspect loop only)"
for set in clinical attacks typical; do
  valgrind --tool=callgrind --callgrind-out-file="/tmp/waf-callgrind-$set.out" \
    --toggle-collect='inspect_set::inspect_all' target/release/examples/inspect_set "$set" 2>&1 \
    | grep -E 'requests=|Collected'
done

echo "== every verdict (diff against the same dump of an earlier commit: a speed change must not change one)"
target/release/examples/verdict_dump testdata/fhir "$SHARED"/corpora/waf/dev/*.jsonl > /tmp/waf-verdicts.txt
echo "$(wc -l < /tmp/waf-verdicts.txt) verdicts in /tmp/waf-verdicts.txt, md5 $(md5sum < /tmp/waf-verdicts.txt | cut -c1-32)"

echo "== criterion"
cargo bench -p wardgate-waf --bench inspect
