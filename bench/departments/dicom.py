#!/usr/bin/env python3
"""DICOMweb STOW-RS and WADO-RS throughput, the same client against several servers.

  dicom.py --rounds N NAME=BASE[,token=FILE][,ca=FILE] ...

BASE is the DICOMweb root (e.g. https://127.0.0.1:18443/radiology/dicom-web or
http://127.0.0.1:8062/dicom-web). token=FILE: send `Authorization: Bearer` with the token
read from FILE (re-read before each round, so the caller may refresh it). ca=FILE: verify
the server's certificate with this CA.

Each of the 24 files of testdata/dicom is stored by its own STOW-RS request (one part,
multipart/related; type="application/dicom") on one keep-alive connection per server, N
rounds; then each instance is retrieved by WADO-RS (instance URL, transfer-syntax=*) N rounds.
The servers take turns round by round, so a burst of other work on the shared machine falls
on both. A non-2xx answer, a STOW answer with a FailedSOPSequence, or a WADO answer that does
not hold the stored file byte for byte counts as a failure; any failure exits non-zero.
Prints a Markdown table (instances/s and MB/s of DICOM file bytes) and, for two servers, the
ratio first/second.
"""
import argparse
import http.client
import json
import pathlib
import ssl
import sys
import time
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parents[2] / "testdata" / "dicom"
BOUNDARY = "wardgate-bench-boundary"
FAILED_SOP_SEQUENCE = "00081198"


class Server:
    def __init__(self, spec):
        name, _, rest = spec.partition("=")
        base, *options = rest.split(",")
        options = dict(o.split("=", 1) for o in options)
        self.name, self.base = name, urllib.parse.urlparse(base)
        self.token_file = options.get("token")
        if self.base.scheme == "https":
            context = ssl.create_default_context(cafile=options.get("ca"))
            self.conn = http.client.HTTPSConnection(self.base.hostname, self.base.port, context=context)
        else:
            self.conn = http.client.HTTPConnection(self.base.hostname, self.base.port)
        self.seconds = {"stow": 0.0, "wado": 0.0}
        self.failures = []
        self.received = 0

    def headers(self):
        h = {}
        if self.token_file:
            h["authorization"] = "Bearer " + pathlib.Path(self.token_file).read_text().strip()
        return h

    def send(self, method, path, body, headers):
        self.conn.request(method, self.base.path.rstrip("/") + path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()


def corpus():
    rows = [l.split("\t") for l in (ROOT / "index.tsv").read_text().splitlines()[1:] if l]
    uids = [r[8] for r in rows]
    files = []
    for r in rows:
        data = (ROOT / "files" / r[0]).read_bytes()
        path = f"/studies/{r[6]}/series/{r[7]}/instances/{r[8]}"
        # The four mr-small-* encodings share one SOP Instance UID: what comes back is the
        # last one stored, so only instances with a UID of their own are compared bytewise.
        files.append((r[0], data, path, uids.count(r[8]) == 1))
    return files


def failed_sops(answer):
    """The instances a STOW-RS answer lists as not stored (an empty sequence means none)."""
    try:
        return json.loads(answer).get(FAILED_SOP_SEQUENCE, {}).get("Value", [])
    except ValueError:
        return ["unreadable answer"]


def stow(server, files):
    headers = server.headers()
    headers["content-type"] = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    headers["accept"] = "application/dicom+json"
    bodies = [(name, b"".join([f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode(),
                               data, f"\r\n--{BOUNDARY}--\r\n".encode()])) for name, data, _, _ in files]
    start = time.perf_counter()
    for name, body in bodies:
        status, answer = server.send("POST", "/studies", body, headers)
        if not 200 <= status < 300 or failed_sops(answer):
            server.failures.append(f"STOW {name}: {status} {answer[:300]!r}")
    server.seconds["stow"] += time.perf_counter() - start


def wado(server, files):
    headers = server.headers()
    headers["accept"] = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    start = time.perf_counter()
    for name, data, path, unique in files:
        status, answer = server.send("GET", path, None, headers)
        server.received += len(answer)
        if not 200 <= status < 300:
            server.failures.append(f"WADO {name}: {status} {answer[:300]!r}")
        elif unique and data not in answer:
            server.failures.append(f"WADO {name}: {status}, the stored file is not in the answer")
    server.seconds["wado"] += time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("servers", nargs="+", metavar="NAME=BASE[,token=FILE][,ca=FILE]")
    args = ap.parse_args()
    files = corpus()
    servers = [Server(s) for s in args.servers]
    for phase in (stow, wado):
        for _ in range(args.rounds):
            for server in servers:
                phase(server, files)
    instances = len(files) * args.rounds
    megabytes = sum(len(d) for _, d, _, _ in files) * args.rounds / 1e6
    print(f"{len(files)} files ({megabytes / args.rounds:.3f} MB) x {args.rounds} rounds, "
          "one instance per request, one keep-alive connection per server\n")
    print("| server | STOW-RS instances/s | STOW-RS MB/s | WADO-RS instances/s | WADO-RS MB/s | WADO-RS bytes received | failed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rate = {}
    for s in servers:
        rate[s.name] = {p: instances / s.seconds[p] for p in s.seconds}
        print(f"| {s.name} | {rate[s.name]['stow']:.1f} | {megabytes / s.seconds['stow']:.2f} | "
              f"{rate[s.name]['wado']:.1f} | {megabytes / s.seconds['wado']:.2f} | {s.received} | {len(s.failures)} |")
    if len(servers) == 2:
        a, b = servers[0].name, servers[1].name
        print(f"\nratio {a}/{b}: STOW-RS {rate[a]['stow'] / rate[b]['stow']:.2f}, "
              f"WADO-RS {rate[a]['wado'] / rate[b]['wado']:.2f}")
    failures = [f"{s.name}: {f}" for s in servers for f in s.failures]
    if failures:
        print(f"\nFAILED: {len(failures)} requests", file=sys.stderr)
        for f in failures[:20]:
            print("  " + f, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
