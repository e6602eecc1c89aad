#!/usr/bin/env python3
"""DICOMweb STOW-RS and WADO-RS throughput, the same client against several servers.

  dicom.py [--rounds N] [--connections C] [--deal study|instance] NAME=BASE[,token=FILE][,ca=FILE] ...

BASE is the DICOMweb root (e.g. https://127.0.0.1:18443/radiology/dicom-web or
http://127.0.0.1:8062/dicom-web). token=FILE: send `Authorization: Bearer` with the token
read from FILE (re-read before each round, so the caller may refresh it). ca=FILE: verify
the server's certificate with this CA.

Each of the 24 files of testdata/dicom is stored by its own STOW-RS request (one part,
multipart/related; type="application/dicom") on keep-alive connections, N rounds; then each
instance is retrieved by WADO-RS (instance URL, transfer-syntax=*) N rounds. With C
connections per server (default 1: one request after the other), a round's files are dealt
out to C threads, each with its own connection, and the round is timed from first send to
last answer: by study (default; the instances of one study go one after the other on one
connection, as a modality sends a study) or by instance (the instances of one study are
stored at the same time on several connections).
The servers take turns round by round, so a burst of other work on the shared machine falls
on both. A non-2xx answer, a STOW answer with a FailedSOPSequence, or a WADO answer that does
not hold the stored file byte for byte counts as a failure; any failure exits non-zero.
Prints a Markdown table (instances/s and MB/s of DICOM file bytes) and the ratio of the first
server to each other one.
"""
import argparse
import http.client
import json
import pathlib
import ssl
import sys
import threading
import time
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parents[2] / "testdata" / "dicom"
BOUNDARY = "wardgate-bench-boundary"
FAILED_SOP_SEQUENCE = "00081198"


class Server:
    def __init__(self, spec, connections):
        name, _, rest = spec.partition("=")
        base, *options = rest.split(",")
        options = dict(o.split("=", 1) for o in options)
        self.name, self.base = name, urllib.parse.urlparse(base)
        self.token_file = options.get("token")
        if self.base.scheme == "https":
            context = ssl.create_default_context(cafile=options.get("ca"))
            self.conns = [http.client.HTTPSConnection(self.base.hostname, self.base.port, context=context)
                          for _ in range(connections)]
        else:
            self.conns = [http.client.HTTPConnection(self.base.hostname, self.base.port)
                          for _ in range(connections)]
        self.seconds = {"stow": 0.0, "wado": 0.0}
        self.failures = []
        self.received = [0] * connections

    def headers(self):
        h = {}
        if self.token_file:
            h["authorization"] = "Bearer " + pathlib.Path(self.token_file).read_text().strip()
        return h

    def send(self, conn, method, path, body, headers):
        conn.request(method, self.base.path.rstrip("/") + path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    def timed(self, phase, work, slices):
        """Run work(i, slices[i]) on connection i, all at once; add the wall-clock time to
        the phase."""
        start = time.perf_counter()
        if len(slices) == 1:
            work(0, slices[0])
        else:
            threads = [threading.Thread(target=work, args=(i, items)) for i, items in enumerate(slices)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.seconds[phase] += time.perf_counter() - start


def corpus():
    rows = [l.split("\t") for l in (ROOT / "index.tsv").read_text().splitlines()[1:] if l]
    uids = [r[8] for r in rows]
    files = []
    for r in rows:
        data = (ROOT / "files" / r[0]).read_bytes()
        path = f"/studies/{r[6]}/series/{r[7]}/instances/{r[8]}"
        # The four mr-small-* encodings share one SOP Instance UID: what comes back is the
        # last one stored, so only instances with a UID of their own are compared bytewise.
        files.append((r[0], data, path, uids.count(r[8]) == 1, r[6]))
    return files


def deal(files, n, by):
    """The files split into n lists, one per connection."""
    if by == "instance":
        return [files[i::n] for i in range(n)]
    studies = {}
    for f in files:
        studies.setdefault(f[4], []).append(f)
    slices = [[] for _ in range(n)]
    for study in sorted(studies.values(), key=len, reverse=True):
        min(slices, key=len).extend(study)
    return slices


def failed_sops(answer):
    """The instances a STOW-RS answer lists as not stored (an empty sequence means none)."""
    try:
        return json.loads(answer).get(FAILED_SOP_SEQUENCE, {}).get("Value", [])
    except ValueError:
        return ["unreadable answer"]


def stow_body(data):
    return b"".join([f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode(),
                     data, f"\r\n--{BOUNDARY}--\r\n".encode()])


def stow(server, slices):
    headers = server.headers()
    headers["content-type"] = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    headers["accept"] = "application/dicom+json"
    bodies = [[(f[0], stow_body(f[1])) for f in items] for items in slices]

    def work(i, items):
        for name, body in items:
            status, answer = server.send(server.conns[i], "POST", "/studies", body, headers)
            if not 200 <= status < 300 or failed_sops(answer):
                server.failures.append(f"STOW {name}: {status} {answer[:300]!r}")

    server.timed("stow", work, bodies)


def wado(server, slices):
    headers = server.headers()
    headers["accept"] = 'multipart/related; type="application/dicom"; transfer-syntax=*'

    def work(i, items):
        for name, data, path, unique, _ in items:
            status, answer = server.send(server.conns[i], "GET", path, None, headers)
            server.received[i] += len(answer)
            if not 200 <= status < 300:
                server.failures.append(f"WADO {name}: {status} {answer[:300]!r}")
            elif unique and data not in answer:
                server.failures.append(f"WADO {name}: {status}, the stored file is not in the answer")

    server.timed("wado", work, slices)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--deal", choices=["study", "instance"], default="study")
    ap.add_argument("servers", nargs="+", metavar="NAME=BASE[,token=FILE][,ca=FILE]")
    args = ap.parse_args()
    files = corpus()
    slices = deal(files, args.connections, args.deal)
    servers = [Server(s, args.connections) for s in args.servers]
    for phase in (stow, wado):
        for _ in range(args.rounds):
            for server in servers:
                phase(server, slices)
    instances = len(files) * args.rounds
    megabytes = sum(len(f[1]) for f in files) * args.rounds / 1e6
    how = "one after the other on 1 keep-alive connection per server" if args.connections == 1 else (
        f"{args.connections} keep-alive connections per server at once, files dealt out by {args.deal} "
        f"({', '.join(str(len(s)) for s in slices)} files per connection)")
    print(f"{len(files)} files ({megabytes / args.rounds:.3f} MB) x {args.rounds} rounds, "
          f"one instance per request, {how}\n")
    print("| server | STOW-RS instances/s | STOW-RS MB/s | WADO-RS instances/s | WADO-RS MB/s | WADO-RS bytes received | failed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rate = {}
    for s in servers:
        rate[s.name] = {p: instances / s.seconds[p] for p in s.seconds}
        print(f"| {s.name} | {rate[s.name]['stow']:.1f} | {megabytes / s.seconds['stow']:.2f} | "
              f"{rate[s.name]['wado']:.1f} | {megabytes / s.seconds['wado']:.2f} | {sum(s.received)} | {len(s.failures)} |")
    a = servers[0].name
    for b in (s.name for s in servers[1:]):
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
