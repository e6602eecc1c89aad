"""Load the emergency department through the gateway and time transaction Bundles.

load.py BASE DATA            PUT the corpus' Synthea Patients and Observations, write the
                             id lists wrk's scripts use into DATA
load.py BASE DATA --transactions N
                             POST N transaction Bundles (the Synthea Clemente_Kreiger Bundle
                             restricted to the emergency department's resource types)

Every request carries `Authorization: Bearer` with the token in DATA/token and is verified
against the gateway's development CA (DATA/ca.pem). Any answer outside 2xx is counted; any
at all makes this exit non-zero after printing the first few.
"""
import http.client, json, pathlib, ssl, sys, time, urllib.parse

base, data = sys.argv[1], pathlib.Path(sys.argv[2])
root = pathlib.Path(__file__).resolve().parents[2] / "testdata" / "fhir"
url = urllib.parse.urlparse(base)
context = ssl.create_default_context(cafile=str(data / "ca.pem"))
conn = http.client.HTTPSConnection(url.hostname, url.port, context=context)
headers = {
    "content-type": "application/fhir+json",
    "authorization": "Bearer " + (data / "token").read_text().strip(),
}
failures = []


def send(method, path, body):
    conn.request(method, path, body=body.encode("utf-8"), headers=headers)
    r = conn.getresponse()
    answer = r.read()
    if not 200 <= r.status < 300:
        failures.append(f"{method} {path}: {r.status} {answer[:300]!r}")
    return r.status


def check():
    if failures:
        print(f"FAILED: {len(failures)} non-2xx answers", file=sys.stderr)
        for f in failures[:10]:
            print("  " + f, file=sys.stderr)
        sys.exit(1)


if "--transactions" in sys.argv:
    n = int(sys.argv[sys.argv.index("--transactions") + 1])
    served = {"Patient", "Encounter", "Observation", "Condition", "AllergyIntolerance", "Procedure"}
    bundle = json.loads((root / "bundles" / "synthea-transaction-Clemente_Kreiger.json").read_text())
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] in served]
    body = json.dumps(bundle)
    start = time.perf_counter()
    for _ in range(n):
        send("POST", "/emergency/fhir", body)
    s = time.perf_counter() - start
    check()
    k = len(bundle["entry"])
    print(f"### transaction Bundles: {n} x {k} entries in {s:.2f} s = {n / s:.1f} Bundles/s = "
          f"{n * k / s:.0f} entries/s, non-2xx 0")
    sys.exit(0)

patients, subjects, count = [], [], 0
lines = (root / "resources" / "synthea-smart-sandbox.jsonl").read_text().splitlines()
start = time.perf_counter()
for line in lines:
    v = json.loads(line)
    if v["resourceType"] not in ("Patient", "Observation"):
        continue
    send("PUT", f"/emergency/fhir/{v['resourceType']}/{v['id']}", line)
    count += 1
    if v["resourceType"] == "Patient":
        patients.append(v["id"])
    else:
        subjects.append(v["subject"]["reference"])
s = time.perf_counter() - start
check()
print(f"### load: {count} resources by PUT through the gateway in {s:.1f} s = {count / s:.0f} resources/s, non-2xx 0")
(data / "patients.txt").write_text("\n".join(patients) + "\n")
(data / "subjects.txt").write_text("\n".join(subjects) + "\n")
(data / "observation.json").write_text(next(l for l in lines if '"resourceType":"Observation"' in l))
