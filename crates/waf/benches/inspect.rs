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
    let cases = corpus::clinical::typical(&clinical).expect("the typical requests are in the set");
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
