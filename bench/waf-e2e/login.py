#!/usr/bin/env python3
"""Log a wardgate account in over HTTPS (password, then TOTP) and print its access token.

The TOTP code is computed from the enrolment URI's secret (RFC 6238, SHA-1, 6 digits, 30 s),
as an authenticator app does. A code works once: when the current one was already used, this
waits for the next 30-second step.

Usage: login.py --url https://127.0.0.1:18443 --ca CA.pem --user NAME --password PW --otpauth URI
"""
import argparse
import base64
import hashlib
import hmac
import json
import ssl
import struct
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
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--otpauth", required=True)
    args = ap.parse_args()
    secret = urllib.parse.parse_qs(urllib.parse.urlsplit(args.otpauth).query)["secret"][0]
    context = ssl.create_default_context(cafile=args.ca)
    for _ in range(3):
        status, step = post(args.url + "/auth/login",
                            {"username": args.user, "password": args.password}, context)
        if status != 200:
            raise SystemExit("login refused: %s %s" % (status, step))
        status, tokens = post(args.url + "/auth/mfa",
                              {"mfa_ticket": step["mfa_ticket"], "code": totp(secret, time.time())},
                              context)
        if status == 200:
            print(tokens["access_token"])
            return
        # The code of this step was used already: wait for the next one.
        time.sleep(31 - time.time() % 30)
    raise SystemExit("MFA refused: %s %s" % (status, tokens))


if __name__ == "__main__":
    main()
