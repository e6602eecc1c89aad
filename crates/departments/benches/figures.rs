//! The figures of docs/departments.md and bench/results/departments-*.md: FHIR read and
//! search latency (p50/p99), create and transaction throughput on the embedded store, and
//! DICOM STOW-RS / WADO-RS throughput over HTTP side by side with Orthanc on the same files.
//!
//! `cargo bench -p wardgate-departments --bench figures` (Orthanc: start it first with
//! shared/peers/orthanc/start.sh and set ORTHANC_URL, e.g. http://127.0.0.1:8062).
//!
//! The department is served over plain HTTP/1.1 on 127.0.0.1 by a minimal hyper front made
//! for this measurement (the gateway's `builtin` wiring does not exist yet), so both servers
//! are measured by the same client over the same loopback.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use wardgate_departments::Department;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

async fn latency(dept: &Department, paths: &[String]) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(paths.len());
    for path in paths {
        let start = Instant::now();
        let r = common::send(dept, "GET", path, "").await;
        times.push(start.elapsed());
        assert_eq!(r.status(), 200, "{path}");
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

async fn serve(dept: Arc<Department>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let dept = dept.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let dept = dept.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let response =
                                dept.handle(http::Request::from_parts(parts, body)).await;
                            let (parts, body) = response.into_parts();
                            Ok::<_, Infallible>(hyper::Response::from_parts(parts, Full::new(body)))
                        }
                    },
                );
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

struct DicomFigures {
    stow_seconds: f64,
    wado_seconds: f64,
    instances: usize,
    bytes: usize,
    failures: usize,
}

async fn dicom_over_http(
    base: &str,
    files: &[(String, Vec<u8>, String)],
    rounds: usize,
) -> DicomFigures {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut failures = 0;
    let start = Instant::now();
    for _ in 0..rounds {
        for (_, file, _) in files {
            let body = wardgate_departments::dicom::multipart::write(
                "bench-boundary",
                &[("application/dicom".into(), file)],
            );
            let request = hyper::Request::post(format!("{base}/dicom-web/studies"))
                .header(
                    "content-type",
                    "multipart/related; type=\"application/dicom\"; boundary=bench-boundary",
                )
                .header("accept", "application/dicom+json")
                .body(Full::new(Bytes::from(body)))
                .expect("request");
            let response = client.request(request).await.expect("stow");
            if !response.status().is_success() {
                failures += 1;
            }
            let _ = response.into_body().collect().await;
        }
    }
    let stow_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for _ in 0..rounds {
        for (_, _, path) in files {
            let request = hyper::Request::get(format!("{base}/dicom-web/{path}"))
                .header(
                    "accept",
                    "multipart/related; type=\"application/dicom\"; transfer-syntax=*",
                )
                .body(Full::new(Bytes::new()))
                .expect("request");
            let response = client.request(request).await.expect("wado");
            if !response.status().is_success() {
                failures += 1;
            }
            let _ = response.into_body().collect().await;
        }
    }
    DicomFigures {
        stow_seconds,
        wado_seconds: start.elapsed().as_secs_f64(),
        instances: files.len() * rounds,
        bytes: files.iter().map(|(_, f, _)| f.len()).sum::<usize>() * rounds,
        failures,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or_default().trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores, Linux")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("figures: bench");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let load_start = Instant::now();
    let (dept, patients, observations) = common::loaded_emergency(dir.path()).await;
    let loaded = patients.len() + observations.len();
    let load_seconds = load_start.elapsed().as_secs_f64();

    let reads: Vec<String> = (0..2000)
        .map(|i| format!("/fhir/Patient/{}", patients[i % patients.len()].0))
        .collect();
    let (read50, read99) = latency(&dept, &reads).await;
    let subjects: Vec<String> = observations
        .iter()
        .filter_map(|(_, b)| serde_json::from_str::<serde_json::Value>(b).ok())
        .filter_map(|v| v["subject"]["reference"].as_str().map(str::to_owned))
        .collect();
    let searches: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "/fhir/Observation?subject={}",
                subjects[(i * 7) % subjects.len()]
            )
        })
        .collect();
    let (search50, search99) = latency(&dept, &searches).await;
    let families: Vec<String> = patients
        .iter()
        .filter_map(|(_, b)| serde_json::from_str::<serde_json::Value>(b).ok())
        .filter_map(|v| {
            v["name"][0]["family"]
                .as_str()
                .map(|f| f.chars().take(3).collect())
        })
        .collect();
    let name_searches: Vec<String> = (0..1000)
        .map(|i| format!("/fhir/Patient?name={}", families[(i * 13) % families.len()]))
        .collect();
    let (name50, name99) = latency(&dept, &name_searches).await;

    let creates = 2000;
    let start = Instant::now();
    for i in 0..creates {
        let r = common::send(
            &dept,
            "POST",
            "/fhir/Observation",
            observations[i % observations.len()].1.clone(),
        )
        .await;
        assert_eq!(r.status(), 201);
    }
    let create_rate = creates as f64 / start.elapsed().as_secs_f64();

    let bundle = std::fs::read(
        common::testdata().join("fhir/bundles/synthea-transaction-Clemente_Kreiger.json"),
    )
    .expect("bundle");
    let record = common::all_types(dir.path()).await;
    let rounds = 30;
    let start = Instant::now();
    for _ in 0..rounds {
        let r = common::send(&record, "POST", "/fhir", bundle.clone()).await;
        assert_eq!(r.status(), 200);
    }
    let tx_seconds = start.elapsed().as_secs_f64();

    println!("## Figures of the departments crate\n");
    println!(
        "Machine: {}. Build: release (`cargo bench`). Store: SQLite (WAL), one file per department, encrypted.\n",
        machine()
    );
    println!(
        "### FHIR, in process (no HTTP), emergency department loaded with {loaded} corpus resources ({:.0} resources/s while loading by PUT)\n",
        loaded as f64 / load_seconds
    );
    println!("| measurement | p50 (ms) | p99 (ms) |\n| --- | ---: | ---: |");
    println!(
        "| read `Patient/{{id}}` (2000 reads) | {} | {} |",
        ms(read50),
        ms(read99)
    );
    println!(
        "| search `Observation?subject=Patient/{{id}}` (1000) | {} | {} |",
        ms(search50),
        ms(search99)
    );
    println!(
        "| search `Patient?name=<3 letters>` (1000) | {} | {} |",
        ms(name50),
        ms(name99)
    );
    println!();
    println!("| measurement | rate |\n| --- | ---: |");
    println!("| create `Observation` (2000 sequential POSTs) | {create_rate:.0} resources/s |");
    println!(
        "| transaction Bundle, 70 entries (Synthea, {rounds} Bundles) | {:.1} Bundles/s = {:.0} entries/s |",
        rounds as f64 / tx_seconds,
        70.0 * rounds as f64 / tx_seconds
    );

    // DICOM over HTTP, against Orthanc if it is running.
    let radiology = Arc::new(common::department(dir.path(), "radiology").await);
    let base = serve(radiology).await;
    let index = std::fs::read_to_string(common::testdata().join("dicom/index.tsv")).expect("index");
    let files: Vec<(String, Vec<u8>, String)> = common::dicom_files()
        .into_iter()
        .map(|(name, bytes)| {
            let row: Vec<&str> = index
                .lines()
                .find(|l| l.starts_with(&format!("{name}\t")))
                .expect("indexed")
                .split('\t')
                .collect();
            let path = format!("studies/{}/series/{}/instances/{}", row[6], row[7], row[8]);
            (name, bytes, path)
        })
        .collect();
    let rounds = 20;
    let ours = dicom_over_http(&base, &files, rounds).await;
    let orthanc_url = std::env::var("ORTHANC_URL").ok();
    let theirs = match &orthanc_url {
        Some(url) => Some(dicom_over_http(url, &files, rounds).await),
        None => None,
    };
    println!(
        "\n### DICOMweb over HTTP/1.1 on 127.0.0.1, the 24 corpus files x {rounds} rounds, one instance per request, one client connection pool\n"
    );
    println!(
        "| server | STOW-RS instances/s | STOW-RS MB/s | WADO-RS instances/s | WADO-RS MB/s | failed requests |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    let row = |name: &str, f: &DicomFigures| {
        println!(
            "| {name} | {:.0} | {:.2} | {:.0} | {:.2} | {} |",
            f.instances as f64 / f.stow_seconds,
            f.bytes as f64 / f.stow_seconds / 1e6,
            f.instances as f64 / f.wado_seconds,
            f.bytes as f64 / f.wado_seconds / 1e6,
            f.failures
        )
    };
    row("wardgate radiology (encrypted SQLite)", &ours);
    match &theirs {
        Some(f) => row(
            "Orthanc 1.10 + DICOMweb plugin (SQLite index, files on disk)",
            f,
        ),
        None => println!("| Orthanc | not measured (set ORTHANC_URL) | | | | |"),
    }
}
