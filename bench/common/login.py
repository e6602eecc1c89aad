#!/usr/bin/env python3
"""Access tokens for the benchmarks: log a wardgate account in over HTTPS and print its
access token. Every clinical request carries one (an anonymous request is refused before it
is forwarded), so the benchmarks do too.

  login.py login   --url URL --ca CA --user NAME --password PW --otpauth URI [--state FILE]
  login.py refresh --url URL --ca CA --state FILE

`login` logs in with the password, then the TOTP code computed from the enrolment URI's
secret (RFC 6238, SHA-1, 6 digits, 30 s), as an authenticator app does. A code works once:
when the current one was used already, it waits for the next 30-second step. `refresh`
trades the refresh token kept in FILE for a fresh access token, with no TOTP step, so a
benchmark can take a new 5-minute token before each run. Both print the access token; with
--state the newest refresh token is kept in FILE.
"""
import argparse
import base64
import hashlib
import hmac
import json
import ssl
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def totp(secret_b32, at):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return "%06d" % code


def post(url, fields, context):
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def keep(tokens, state):
    if state:
        with open(state, "w") as f:
            json.dump({"refresh_token": tokens["refresh_token"]}, f)
    print(tokens["access_token"])


def login(args, context):
    secret = urllib.parse.parse_qs(urllib.parse.urlsplit(args.otpauth).query)["secret"][0]
    for _ in range(3):
        status, step = post(args.url + "/auth/login",
                            {"username": args.user, "password": args.password}, context)
        if status != 200:
            sys.exit("login refused: %s %s" % (status, step))
        status, tokens = post(args.url + "/auth/mfa",
                              {"mfa_ticket": step["mfa_ticket"], "code": totp(secret, time.time())},
                              context)
        if status == 200:
            keep(tokens, args.state)
            return
        # The code of this step was used already: wait for the next one.
        time.sleep(31 - time.time() % 30)
    sys.exit("MFA refused: %s %s" % (status, tokens))


def refresh(args, context):
    with open(args.state) as f:
        token = json.load(f)["refresh_token"]
    status, tokens = post(args.url + "/auth/token",
                          {"grant_type": "refresh_token", "refresh_token": token}, context)
    if status != 200:
        sys.exit("refresh refused: %s %s" % (status, tokens))
    keep(tokens, args.state)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["login", "refresh"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--state", help="file keeping the newest refresh token")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--otpauth")
    args = ap.parse_args()
    if args.mode == "login" and not (args.user and args.password and args.otpauth):
        ap.error("login needs --user, --password and --otpauth")
    if args.mode == "refresh" and not args.state:
        ap.error("refresh needs --state")
    context = ssl.create_default_context(cafile=args.ca)
    (login if args.mode == "login" else refresh)(args, context)


if __name__ == "__main__":
    main()
