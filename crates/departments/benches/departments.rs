//! Criterion benchmarks of one department, in process (no HTTP): FHIR read, search, create,
//! transaction; DICOM STOW and WADO. `cargo bench -p wardgate-departments --bench departments`

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn fhir(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let (dept, patients, observations) = runtime.block_on(common::loaded_emergency(dir.path()));
    let mut group = c.benchmark_group("fhir");
    let mut i = 0usize;
    group.bench_function("read Patient", |b| {
        b.iter(|| {
            i = (i + 1) % patients.len();
            runtime.block_on(common::send(
                &dept,
                "GET",
                &format!("/fhir/Patient/{}", patients[i].0),
                "",
            ))
        })
    });
    let subjects: Vec<String> = observations
        .iter()
        .filter_map(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .filter_map(|v| v["subject"]["reference"].as_str().map(str::to_owned))
        .collect();
    group.bench_function("search Observation?subject", |b| {
        b.iter(|| {
            i = (i + 1) % subjects.len();
            runtime.block_on(common::send(
                &dept,
                "GET",
                &format!("/fhir/Observation?subject={}", subjects[i]),
                "",
            ))
        })
    });
    group.bench_function("search Patient?name prefix", |b| {
        b.iter(|| {
            runtime.block_on(common::send(
                &dept,
                "GET",
                "/fhir/Patient?name=mar&_count=10",
                "",
            ))
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("create Observation", |b| {
        b.iter(|| {
            i = (i + 1) % observations.len();
            runtime.block_on(common::send(
                &dept,
                "POST",
                "/fhir/Observation",
                observations[i].1.clone(),
            ))
        })
    });
    let bundle = std::fs::read(
        common::testdata().join("fhir/bundles/synthea-transaction-Clemente_Kreiger.json"),
    )
    .expect("bundle");
    let record = runtime.block_on(common::all_types(dir.path()));
    group.throughput(Throughput::Elements(70));
    group.sample_size(20);
    group.bench_function("transaction Bundle (70 entries)", |b| {
        b.iter(|| runtime.block_on(common::send(&record, "POST", "/fhir", bundle.clone())))
    });
    group.finish();
}

fn dicom(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let dept = runtime.block_on(common::department(dir.path(), "radiology"));
    let files = common::dicom_files();
    let bytes: u64 = files.iter().map(|(_, f)| f.len() as u64).sum();
    let parts: Vec<(String, &[u8])> = files
        .iter()
        .map(|(_, f)| ("application/dicom".to_owned(), f.as_slice()))
        .collect();
    let body = bytes::Bytes::from(wardgate_departments::dicom::multipart::write("b", &parts));
    let stow = |body: bytes::Bytes| {
        let request = http::Request::builder()
            .method("POST")
            .uri("/dicom-web/studies")
            .header(
                "content-type",
                "multipart/related; type=\"application/dicom\"; boundary=b",
            )
            .body(body)
            .expect("request");
        runtime.block_on(dept.handle(request))
    };
    let mut group = c.benchmark_group("dicom");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(20);
    group.bench_function("STOW-RS 24 corpus files", |b| b.iter(|| stow(body.clone())));
    group.bench_function("WADO-RS every study", |b| {
        b.iter(|| {
            for study in [
                "1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1",
                "1.3.6.1.4.1.5962.1.2.13.20040826185059.5457",
            ] {
                let request = http::Request::builder()
                    .uri(format!("/dicom-web/studies/{study}"))
                    .body(bytes::Bytes::new())
                    .expect("request");
                runtime.block_on(dept.handle(request));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, fhir, dicom);
criterion_main!(benches);
