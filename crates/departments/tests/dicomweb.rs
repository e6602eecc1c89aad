//! DICOMweb on the radiology department: every corpus file stores and retrieves
//! byte-identical, QIDO-RS finds what was stored, and the ImagingStudy follows.

mod common;

use std::path::PathBuf;

use common::{STOW_TYPE, dicom_corpus, json, send, sqlite_department, stow_body, without_meta};
use wardgate_departments::dicom::multipart;

fn index() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/dicom/index.tsv"),
    )
    .unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn single_part(response: &http::Response<bytes::Bytes>) -> Vec<Vec<u8>> {
    let ct = response.headers()["content-type"].to_str().unwrap();
    let media = multipart::parse_media_type(ct).unwrap();
    assert_eq!(media.param("type"), Some("application/dicom"));
    multipart::parse(
        response.body(),
        media.param("boundary").unwrap(),
        &Default::default(),
    )
    .unwrap()
    .into_iter()
    .map(|p| p.body.to_vec())
    .collect()
}

#[tokio::test]
async fn every_corpus_file_stores_and_retrieves_byte_identical() {
    let t = sqlite_department("radiology").await;
    let d = &t.dept;
    let rows = index();
    for (name, bytes) in dicom_corpus() {
        let row = rows
            .iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("{name} not in index"));
        let (study, series, sop) = (&row[6], &row[7], &row[8]);
        let r = send(
            d,
            "POST",
            "/dicom-web/studies",
            &[("content-type", STOW_TYPE)],
            stow_body(&[&bytes]),
        )
        .await;
        assert_eq!(
            r.status(),
            200,
            "{name}: {}",
            String::from_utf8_lossy(r.body())
        );
        let answer = json(&r);
        assert_eq!(
            answer["00081199"]["Value"][0]["00081155"]["Value"][0],
            sop.as_str(),
            "{name}"
        );
        let path = format!("/dicom-web/studies/{study}/series/{series}/instances/{sop}");
        let got = send(
            d,
            "GET",
            &path,
            &[("accept", "multipart/related; type=\"application/dicom\"")],
            "",
        )
        .await;
        assert_eq!(got.status(), 200, "{name}");
        let parts = single_part(&got);
        assert_eq!(parts.len(), 1, "{name}");
        assert!(parts[0] == bytes, "{name} did not come back byte-identical");
        // The metadata names the same instance.
        let meta = json(&send(d, "GET", &format!("{path}/metadata"), &[], "").await);
        assert_eq!(meta[0]["00080018"]["Value"][0], sop.as_str(), "{name}");
        assert_eq!(meta[0]["00080016"]["Value"][0], row[9].as_str(), "{name}");
    }
    // The four mr-small encodings share one SOP Instance UID: the last one stored is kept.
    let mr = rows.iter().find(|r| r[0] == "mr-small-rle.dcm").unwrap();
    let study = json(
        &send(
            d,
            "GET",
            &format!("/dicom-web/studies?StudyInstanceUID={}", mr[6]),
            &[],
            "",
        )
        .await,
    );
    assert_eq!(study[0]["00201208"]["Value"][0], 1);
    let instances = json(&send(d, "GET", "/dicom-web/instances", &[], "").await);
    assert_eq!(
        instances.as_array().unwrap().len(),
        21,
        "24 files, 4 of them one instance"
    );
}

#[tokio::test]
async fn qido_wado_and_the_imaging_study_agree_with_what_was_stored() {
    let t = sqlite_department("radiology").await;
    let d = &t.dept;
    let files = dicom_corpus();
    let archibald: Vec<&[u8]> = files
        .iter()
        .filter(|(n, _)| n.starts_with("patient-doe-archibald"))
        .map(|(_, b)| b.as_slice())
        .collect();
    let peter: Vec<&[u8]> = files
        .iter()
        .filter(|(n, _)| n.starts_with("patient-doe-peter"))
        .map(|(_, b)| b.as_slice())
        .collect();
    assert_eq!(
        send(
            d,
            "POST",
            "/dicom-web/studies",
            &[("content-type", STOW_TYPE)],
            stow_body(&archibald)
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        send(
            d,
            "POST",
            "/dicom-web/studies",
            &[("content-type", STOW_TYPE)],
            stow_body(&peter)
        )
        .await
        .status(),
        200
    );

    let q = |path: &str| {
        let path = path.to_owned();
        async move {
            let r = send(d, "GET", &path, &[], "").await;
            assert_eq!(
                r.status(),
                200,
                "{path}: {}",
                String::from_utf8_lossy(r.body())
            );
            json(&r).as_array().unwrap().clone()
        }
    };
    assert_eq!(q("/dicom-web/studies").await.len(), 5);
    assert_eq!(q("/dicom-web/studies?PatientName=Doe^Arch*").await.len(), 2);
    assert_eq!(q("/dicom-web/studies?PatientName=*peter").await.len(), 3);
    assert_eq!(q("/dicom-web/studies?00100020=98890234").await.len(), 3);
    assert_eq!(q("/dicom-web/studies?ModalitiesInStudy=CT").await.len(), 1);
    assert_eq!(
        q("/dicom-web/studies?StudyDescription=Brain*").await.len(),
        2
    );
    assert_eq!(q("/dicom-web/studies?limit=2&offset=1").await.len(), 2);
    let ct_study = "1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1";
    let study = q(&format!(
        "/dicom-web/studies?StudyInstanceUID={ct_study}&includefield=StudyDescription"
    ))
    .await;
    assert_eq!(study[0]["00201208"]["Value"][0], 4);
    assert_eq!(
        study[0]["00081030"]["Value"][0],
        "CT, HEAD/BRAIN WO CONTRAST"
    );
    assert_eq!(
        q(&format!("/dicom-web/studies/{ct_study}/series"))
            .await
            .len(),
        1
    );
    assert_eq!(
        q(&format!("/dicom-web/studies/{ct_study}/instances"))
            .await
            .len(),
        4
    );
    assert_eq!(q("/dicom-web/series?Modality=CR").await.len(), 3);
    let dates = q("/dicom-web/studies?StudyDate=19000101-20301231")
        .await
        .len();
    assert!(dates >= 1, "date range finds the studies that have a date");

    // WADO-RS of a whole study returns every instance; a wrong series in the path is 404.
    let whole = send(d, "GET", &format!("/dicom-web/studies/{ct_study}"), &[], "").await;
    assert_eq!(single_part(&whole).len(), 4);
    let wrong = send(d, "GET", &format!("/dicom-web/studies/{ct_study}/series/1.2.3/instances/1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.93"), &[], "").await;
    assert_eq!(wrong.status(), 404);
    assert_eq!(
        send(d, "GET", "/dicom-web/studies/1.2'3", &[], "")
            .await
            .status(),
        400
    );

    // The ImagingStudy is there for FHIR clients.
    let imaging = json(&send(d, "GET", &format!("/fhir/ImagingStudy/{ct_study}"), &[], "").await);
    assert_eq!(imaging["numberOfInstances"], 4);
    assert_eq!(imaging["numberOfSeries"], 1);
    assert_eq!(imaging["modality"][0]["code"], "CT");
    assert_eq!(imaging["subject"]["identifier"]["value"], "77654033");
    let by_modality = json(&send(d, "GET", "/fhir/ImagingStudy?modality=MR", &[], "").await);
    assert_eq!(by_modality["total"], 3);
}

#[tokio::test]
async fn stow_refuses_what_it_cannot_store() {
    let t = sqlite_department("radiology").await;
    let d = &t.dept;
    let files = dicom_corpus();
    let ct = &files.iter().find(|(n, _)| n == "ct-small.dcm").unwrap().1;
    // Wrong media type.
    let r = send(
        d,
        "POST",
        "/dicom-web/studies",
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(r.status(), 415);
    // Not DICOM: 409 with a failure reason.
    let r = send(
        d,
        "POST",
        "/dicom-web/studies",
        &[("content-type", STOW_TYPE)],
        stow_body(&[b"not dicom"]),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        json(&r)["00081198"]["Value"][0]["00081197"]["Value"][0],
        0xC000
    );
    // Study in the path that is not the dataset's: refused; one good, one bad: 202.
    let r = send(
        d,
        "POST",
        "/dicom-web/studies/1.2.3",
        &[("content-type", STOW_TYPE)],
        stow_body(&[ct]),
    )
    .await;
    assert_eq!(r.status(), 409);
    let r = send(
        d,
        "POST",
        "/dicom-web/studies",
        &[("content-type", STOW_TYPE)],
        stow_body(&[ct, b"junk"]),
    )
    .await;
    assert_eq!(r.status(), 202);
    // Malformed multipart.
    let r = send(
        d,
        "POST",
        "/dicom-web/studies",
        &[("content-type", STOW_TYPE)],
        "--stow-boundary\r\n\r\nno end",
    )
    .await;
    assert_eq!(r.status(), 400);
}

/// A modality sends one study's instances on several connections at once: every instance is
/// stored (200, none refused with 409) and the ImagingStudy lists all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_of_one_study_stored_in_parallel_all_reach_the_imaging_study() {
    let files = dicom_corpus();
    let ct: Vec<&[u8]> = files
        .iter()
        .filter(|(n, _)| n.starts_with("patient-doe-archibald/ct2-"))
        .map(|(_, b)| b.as_slice())
        .collect();
    assert_eq!(ct.len(), 4);
    let study = "1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1";
    for round in 0..5 {
        let t = sqlite_department("radiology").await;
        let d = &t.dept;
        let answers = futures_util::future::join_all(ct.iter().map(|file| {
            send(
                d,
                "POST",
                "/dicom-web/studies",
                &[("content-type", STOW_TYPE)],
                stow_body(&[file]),
            )
        }))
        .await;
        for answer in &answers {
            assert_eq!(
                answer.status(),
                200,
                "round {round}: {}",
                String::from_utf8_lossy(answer.body())
            );
        }
        let r = send(d, "GET", &format!("/fhir/ImagingStudy/{study}"), &[], "").await;
        assert_eq!(r.status(), 200, "round {round}");
        let imaging = json(&r);
        assert_eq!(imaging["numberOfInstances"], 4, "round {round}: {imaging}");
    }
}

/// The ImagingStudy kept up to date one instance at a time is the one built from every
/// stored instance: same series in the same order, same instances, same counts.
#[tokio::test]
async fn the_imaging_study_grown_per_instance_equals_the_one_built_from_the_store() {
    let t = sqlite_department("radiology").await;
    let d = &t.dept;
    let files = dicom_corpus();
    let study = "1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1";
    let mut cr: Vec<&[u8]> = files
        .iter()
        .filter(|(n, _)| n.starts_with("patient-doe-archibald/cr"))
        .map(|(_, b)| b.as_slice())
        .collect();
    assert_eq!(cr.len(), 3, "three series of one study");
    cr.reverse();
    let stow = |file: &[u8]| {
        let body = stow_body(&[file]);
        async move {
            let r = send(
                d,
                "POST",
                "/dicom-web/studies",
                &[("content-type", STOW_TYPE)],
                body,
            )
            .await;
            assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
        }
    };
    for file in &cr {
        stow(file).await;
    }
    let path = format!("/fhir/ImagingStudy/{study}");
    let grown = without_meta(json(&send(d, "GET", &path, &[], "").await));
    assert_eq!(grown["numberOfSeries"], 3);
    assert_eq!(grown["numberOfInstances"], 3);

    // Deleted, it is built again from every stored instance at the next STOW.
    assert_eq!(send(d, "DELETE", &path, &[], "").await.status(), 204);
    stow(cr[0]).await;
    let built = without_meta(json(&send(d, "GET", &path, &[], "").await));
    assert_eq!(grown, built);
}
