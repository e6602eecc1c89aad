#!/usr/bin/env python3
"""Copy WAF corpora (format: shared/corpora/waf/README.md) for a measurement through wardgate.

The attack corpora send their requests to `/`, which no department serves; wardgate refuses
unknown paths before its firewall runs, and refuses anonymous callers of department APIs
(deny by default). So each request is prefixed with a department whose upstream is the
echo backend (`--prefix /lab-legacy`, a plain upstream: the firewall sees non-FHIR traffic as
the corpora intend) and carries the access token of a real login (`--token`). The clinical
set is already routed to departments: give it the token only.

Usage: transform.py [--prefix /lab-legacy] --token TOKEN IN.jsonl > OUT.jsonl
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="+")
    ap.add_argument("--prefix", default="", help="path prefix, e.g. /lab-legacy")
    ap.add_argument("--token", required=True, help="access token sent as Authorization: Bearer")
    args = ap.parse_args()
    for path in args.corpus:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                r = json.loads(line)
                if args.prefix:
                    r["path"] = args.prefix.rstrip("/") + "/" + (r.get("path") or "/").lstrip("/")
                headers = {k: v for k, v in (r.get("headers") or {}).items()
                           if k.lower() != "authorization"}
                headers["Authorization"] = "Bearer " + args.token
                r["headers"] = headers
                sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
