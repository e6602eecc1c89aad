//! What the policy costs the gateway: resolving each request's route (hot path), taking the
//! policy snapshot, and validating the default policy (at start and at each reload).
//!
//! Run: `cargo bench -p wardgate-policy --bench policy`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use wardgate_policy::{DEFAULT_POLICY, Fingerprint, Policy, PolicyHandle};

fn route(c: &mut Criterion) {
    let policy = Policy::hospital_default()
        .expect("the default policy validates")
        .policy;
    let mut group = c.benchmark_group("route");
    group.bench_function("fhir_read_department_default", |b| {
        b.iter(|| policy.route(black_box("GET"), black_box("/emergency/fhir/Patient/123")))
    });
    group.bench_function("stow_finer_route", |b| {
        b.iter(|| {
            policy.route(
                black_box("POST"),
                black_box("/radiology/dicom-web/studies/1.2.840.1"),
            )
        })
    });
    group.bench_function("unknown_path_denied", |b| {
        b.iter(|| {
            policy.route(
                black_box("GET"),
                black_box("/admin/../emergency/fhir/Patient"),
            )
        })
    });
    group.finish();
}

fn snapshot(c: &mut Criterion) {
    let validated = Policy::hospital_default().expect("the default policy validates");
    let handle = PolicyHandle::new(validated, Fingerprint::of(DEFAULT_POLICY.as_bytes()));
    c.bench_function("handle/current_snapshot", |b| {
        b.iter(|| black_box(handle.current()))
    });
}

fn validate(c: &mut Criterion) {
    c.bench_function("validate/default_policy", |b| {
        b.iter(|| Policy::parse(black_box(DEFAULT_POLICY), Path::new("wardgate.toml")))
    });
}

criterion_group!(benches, route, snapshot, validate);
criterion_main!(benches);
