//! What STOW-RS costs as a study grows, sent one instance per request as modalities do: the
//! CT instance of the corpus stored under N new SOP Instance UIDs into one study, in process
//! (no HTTP). With the ImagingStudy rebuilt from every stored instance after each STOW, the
//! last instances cost far more than the first; kept up to date instance by instance, the
//! same.
//!
//!   cargo bench -p wardgate-departments --bench study_growth [-- N]     (default N = 1000)

mod common;

use std::time::{Duration, Instant};

use wardgate_departments::dicom::multipart;

/// The CT instance and its SOP Instance UID (index.tsv).
const FILE: &str = "patient-doe-archibald/ct2-17106.dcm";
const SOP: &str = "1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.93";

/// `file` with its SOP Instance UID replaced by one of the same length, different for each
/// `n` below 90,000 (the component `28319` becomes `1nnnn`).
fn instance(file: &[u8], n: usize) -> Vec<u8> {
    let new = SOP.replace(".28319.", &format!(".{}.", 10_000 + n));
    assert_eq!(new.len(), SOP.len());
    let mut out = file.to_vec();
    let mut at = 0;
    let mut replaced = 0;
    while let Some(found) = out[at..]
        .windows(SOP.len())
        .position(|w| w == SOP.as_bytes())
    {
        let start = at + found;
        out[start..start + SOP.len()].copy_from_slice(new.as_bytes());
        at = start + SOP.len();
        replaced += 1;
    }
    assert!(
        replaced >= 2,
        "the UID is in the file meta and the data set"
    );
    out
}

fn mean(durations: &[Duration]) -> f64 {
    durations.iter().map(Duration::as_secs_f64).sum::<f64>() / durations.len() as f64 * 1e3
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        println!("study_growth: bench");
        return;
    }
    let n: usize = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let file = common::dicom_files()
        .into_iter()
        .find(|(name, _)| name == FILE)
        .expect("the CT file")
        .1;
    let dir = tempfile::tempdir().expect("dir");
    let radiology = common::department(dir.path(), "radiology").await;
    let content_type = "multipart/related; type=\"application/dicom\"; boundary=b";
    let mut took = Vec::with_capacity(n);
    for i in 0..n {
        let body = multipart::write(
            "b",
            &[("application/dicom".to_owned(), &instance(&file, i))],
        );
        let start = Instant::now();
        let r = common::send_with(
            &radiology,
            "POST",
            "/dicom-web/studies",
            &[("content-type", content_type)],
            body,
        )
        .await;
        took.push(start.elapsed());
        assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    }
    let study = "1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1";
    let imaging = common::send(
        &radiology,
        "GET",
        &format!("/fhir/ImagingStudy/{study}"),
        "",
    )
    .await;
    let imaging: serde_json::Value = serde_json::from_slice(imaging.body()).expect("json");
    let listed = imaging["numberOfInstances"].as_u64().unwrap_or(0);
    // The study's three other corpus instances are not stored here: N of this one.
    assert_eq!(listed as usize, n, "the ImagingStudy lists every instance");
    let k = (n / 10).max(1);
    println!(
        "STOW-RS of {n} instances of one study, one per request, in process ({} bytes each)",
        file.len()
    );
    println!("| instances | mean ms per STOW |\n| --- | ---: |");
    println!("| first {k} | {:.3} |", mean(&took[..k]));
    println!("| last {k} | {:.3} |", mean(&took[n - k..]));
    println!(
        "last / first: {:.2}",
        mean(&took[n - k..]) / mean(&took[..k])
    );
}
