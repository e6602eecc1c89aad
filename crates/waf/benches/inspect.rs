//! Cost of `Engine::inspect` per request: on the clinical FHIR request set, on the attack
//! corpus sample, and on a few typical requests one by one.
//!
//! `cargo bench -p wardgate-waf --bench inspect`; results with the machine in
//! `bench/results/waf-*.md`. Instruction counts (comparable on a noisy machine) come from
//! `examples/inspect_set.rs` under callgrind.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wardgate_waf::corpus::{self, Record};
use wardgate_waf::{Engine, EngineConfig};

fn testdata(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(relative)
}

fn load(relative: &str) -> Vec<Record> {
    let path = testdata(relative);
    let loaded = if path.is_dir() {
        corpus::clinical::load(&path)
    } else {
        corpus::read_jsonl(&path)
    };
    loaded.unwrap_or_else(|e| panic!("{e}"))
}

fn inspect_all(engine: &Engine, records: &[Record]) -> u32 {
    records
        .iter()
        .map(|r| u32::from(r.inspect(engine, 1, false).reaches_threshold()))
        .sum()
}

fn corpora(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default());
    let clinical = load("fhir");
    let mut attacks = load("waf/gotestwaf.jsonl");
    attacks.extend(load("waf/libinjection-sample.jsonl"));
    attacks.extend(load("waf/patt-sample.jsonl"));

    let mut group = c.benchmark_group("set");
    group.sample_size(10);
    for (name, records) in [("clinical", &clinical), ("attacks", &attacks)] {
        group.throughput(Throughput::Elements(records.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| inspect_all(&engine, black_box(records)))
        });
    }
    group.finish();
}

fn typical(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default());
    let clinical = load("fhir");
    // The headers a clinical application sends with every request; they are inspected too.
    let client_headers = [
        (
            "Authorization",
            "Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IjIwMjYtMTEifQ.eyJpc3MiOiJodHRwczovL3dhcmRnYXRlLmV4YW1wbGUub3JnL2F1dGgiLCJzdWIiOiJkci5vYnJpZW4iLCJzY29wZSI6InVzZXIvKi5ycyJ9.c2lnbmF0dXJlLW9mLWFuLWVzMjU2LXRva2Vu",
        ),
        (
            "User-Agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        ),
        ("Accept", "application/fhir+json"),
        ("X-Request-Id", "6f1c2b9e-3d4a-4f8e-9b7a-2c5d8e1f0a34"),
    ];
    let pick = |method: &str, path: &str, query: &str| {
        let mut record = clinical
            .iter()
            .find(|r| r.method == method && r.path == path && r.query.starts_with(query))
            .cloned()
            .unwrap_or_else(|| panic!("no {method} {path}?{query} in the clinical set"));
        for (name, value) in client_headers {
            record.headers.insert(name.to_owned(), value.to_owned());
        }
        record
    };
    let cases = [
        ("read", pick("GET", "/record/fhir/Binary/edge-bin-v2", "")),
        (
            "search",
            pick("GET", "/laboratory/fhir/Observation", "patient="),
        ),
        (
            "create-observation",
            pick("POST", "/laboratory/fhir/Observation", ""),
        ),
        (
            "form-search",
            pick("POST", "/record/fhir/Patient/_search", ""),
        ),
    ];
    let mut group = c.benchmark_group("typical");
    for (name, record) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(record).inspect(&engine, 1, false).score)
        });
    }
    group.finish();
}

criterion_group!(benches, corpora, typical);
criterion_main!(benches);
