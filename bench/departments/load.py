"""Load the emergency department through the gateway and time transaction Bundles.

load.py BASE DATA            PUT the corpus' Synthea Patients and Observations, write the
                             id lists wrk's scripts use into DATA
load.py BASE DATA --transactions N
                             POST N transaction Bundles (the Synthea Clemente_Kreiger Bundle
                             restricted to the emergency department's resource types)
"""
import http.client, json, pathlib, ssl, sys, time, urllib.parse

base, data = sys.argv[1], pathlib.Path(sys.argv[2])
root = pathlib.Path(__file__).resolve().parents[2] / "testdata" / "fhir"
url = urllib.parse.urlparse(base)
context = ssl._create_unverified_context()  # the gateway's development CA, on loopback
conn = http.client.HTTPSConnection(url.hostname, url.port, context=context)
headers = {"content-type": "application/fhir+json"}

def send(method, path, body=None):
    conn.request(method, path, body=body.encode("utf-8") if isinstance(body, str) else body, headers=headers)
    r = conn.getresponse()
    r.read()
    return r.status

if "--transactions" in sys.argv:
    n = int(sys.argv[sys.argv.index("--transactions") + 1])
    served = {"Patient", "Encounter", "Observation", "Condition", "AllergyIntolerance", "Procedure"}
    bundle = json.loads((root / "bundles" / "synthea-transaction-Clemente_Kreiger.json").read_text())
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] in served]
    body = json.dumps(bundle)
    start = time.perf_counter()
    for _ in range(n):
        assert send("POST", "/emergency/fhir", body) == 200
    s = time.perf_counter() - start
    k = len(bundle["entry"])
    print(f"### transaction Bundles: {n} x {k} entries in {s:.2f} s = {n / s:.1f} Bundles/s = {n * k / s:.0f} entries/s")
    sys.exit(0)

patients, subjects, count = [], [], 0
start = time.perf_counter()
for line in (root / "resources" / "synthea-smart-sandbox.jsonl").read_text().splitlines():
    v = json.loads(line)
    if v["resourceType"] not in ("Patient", "Observation"):
        continue
    status = send("PUT", f"/emergency/fhir/{v['resourceType']}/{v['id']}", line)
    assert status in (200, 201), (status, v["id"])
    count += 1
    if v["resourceType"] == "Patient":
        patients.append(v["id"])
    else:
        subjects.append(v["subject"]["reference"])
s = time.perf_counter() - start
print(f"### load: {count} resources by PUT through the gateway in {s:.1f} s = {count / s:.0f} resources/s")
(data / "patients.txt").write_text("\n".join(patients) + "\n")
(data / "subjects.txt").write_text("\n".join(subjects) + "\n")
(data / "observation.json").write_text(
    next(l for l in (root / "resources" / "synthea-smart-sandbox.jsonl").read_text().splitlines()
         if '"resourceType":"Observation"' in l))
