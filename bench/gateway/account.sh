# Sourced by the gateway benchmarks: the measurement account and its tokens.
#
# bench_policy PORT ADMIN_PORT UPSTREAM_PORT LOG   prints the benchmark policy: one department
#   `bench` forwarding to the upstream, rate limits out of the way (one client address sends
#   everything), a role that may read FHIR resources there.
# bench_account WARDGATE DATA CONFIG URL          creates the account (the CLI writes the same
#   identity store the server reads) and logs it in once (password + TOTP).
# bench_token                                     prints a fresh access token (refresh grant).

BENCH_USER=bench.reader
BENCH_PASSWORD="gateway benchmark password 2026"
HERE_ACCOUNT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

bench_policy() {
  cat <<TOML
version = 1
[listen]
public = "127.0.0.1:$1"
admin = "127.0.0.1:$2"
[rate_limit]
rate_per_second = 1000000
burst = 1000000
[upstream]
pool_idle_per_host = 64
[departments.bench]
prefix = "/bench/"
upstream = "http://127.0.0.1:$3"
[roles.physician]
scopes = ["user/*.rs"]
departments = ["bench"]
[audit]
log = "$4"
TOML
}

bench_account() {
  local wardgate=$1 data=$2 config=$3
  BENCH_URL=$4
  BENCH_CA="$data/ca.pem"
  BENCH_STATE="$data/bench-token.json"
  echo "$BENCH_PASSWORD" | "$wardgate" user add "$BENCH_USER" --role physician --department bench \
    --password-stdin --data-dir "$data" --config "$config" --issuer "$BENCH_URL" >"$data/bench-user.out"
  local otpauth
  otpauth="$(grep -o 'otpauth://[^ ]*' "$data/bench-user.out" | head -1)"
  python3 "$HERE_ACCOUNT/../common/login.py" login --url "$BENCH_URL" --ca "$BENCH_CA" --state "$BENCH_STATE" \
    --user "$BENCH_USER" --password "$BENCH_PASSWORD" --otpauth "$otpauth" >/dev/null
}

bench_token() {
  python3 "$HERE_ACCOUNT/../common/login.py" refresh --url "$BENCH_URL" --ca "$BENCH_CA" --state "$BENCH_STATE"
}
