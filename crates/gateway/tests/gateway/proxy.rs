//! Forwarding: GET, POST, streamed bodies both ways, headers, HTTP/2, built-in departments.

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, StreamBody};

use crate::support::{TestBody, TestGateway, full};

#[tokio::test]
async fn get_is_forwarded_below_the_upstream_base_with_forwarding_headers() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let request = Request::get("/emergency/fhir/Patient?name=Smith&_count=5")
        .header("host", "localhost")
        .header("x-forwarded-for", "10.66.66.66")
        .header("connection", "x-hop")
        .header("x-hop", "secret")
        .header("x-request-id", "client-id-42")
        .body(full(Bytes::new()))
        .unwrap();
    let answer = client.send(request).await.unwrap();
    assert_eq!(answer.status, 200);
    let echo = answer.json();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["uri"], "/base/fhir/Patient?name=Smith&_count=5");
    // The client's claims are replaced by what the gateway saw.
    assert_eq!(echo["x_forwarded_for"], "127.0.0.1");
    let forwarded = echo["forwarded"].as_str().unwrap();
    assert!(
        forwarded.starts_with("for=\"127.0.0.1:")
            && forwarded.ends_with(";proto=https;host=\"localhost\""),
        "{forwarded}"
    );
    assert_eq!(echo["x_request_id"], "client-id-42");
    assert_eq!(echo["host"], gateway.upstream.addr.to_string());
    // Hop-by-hop headers, and those Connection names, do not cross.
    assert!(echo["x_hop"].is_null());
    // Security headers, no upstream banner, the request id echoed.
    assert_eq!(answer.headers["x-request-id"], "client-id-42");
    assert_eq!(
        answer.headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(answer.headers["x-content-type-options"], "nosniff");
    assert_eq!(answer.headers["cache-control"], "no-store");
    assert!(answer.headers.get("referrer-policy").is_some());
    assert!(answer.headers.get("server").is_none());
    assert!(answer.headers.get("keep-alive").is_none());
}

#[tokio::test]
async fn post_body_reaches_the_upstream_intact() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let patient = r#"{"resourceType":"Patient","name":[{"family":"Smith"}]}"#;
    let request = Request::post("/emergency/fhir/Patient")
        .header("host", "localhost")
        .header("content-type", "application/fhir+json")
        .body(full(patient))
        .unwrap();
    let echo = client.send(request).await.unwrap().json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], patient);
    assert_eq!(echo["body_len"], patient.len());
}

fn streamed(chunks: Vec<&'static str>) -> TestBody {
    let frames = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok(hyper::body::Frame::data(Bytes::from(c)))),
    );
    StreamBody::new(frames).boxed()
}

#[tokio::test]
async fn chunked_request_and_response_bodies_are_streamed_through() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let request = Request::post("/emergency/fhir/Binary")
        .header("host", "localhost")
        .body(streamed(vec!["part one;", "part two;", "part three"]))
        .unwrap();
    let echo = client.send(request).await.unwrap().json();
    assert_eq!(echo["body"], "part one;part two;part three");

    let answer = client.get("/emergency/stream").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, Bytes::from("first,second,third"));
}

#[tokio::test]
async fn http2_is_negotiated_by_alpn_and_forwarded() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"h2").await;
    let answer = client.get("/emergency/fhir/metadata").await;
    assert_eq!(answer.version, http::Version::HTTP_2);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["uri"], "/base/fhir/metadata");
    // Several streams on the one connection.
    for _ in 0..5 {
        assert_eq!(client.get("/emergency/fhir/Observation").await.status, 200);
    }
}

#[tokio::test]
async fn builtin_departments_are_answered_in_process_with_the_relative_path() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let request = Request::post("/radiology/dicom-web/studies")
        .header("host", "localhost")
        .body(full("0123456789"))
        .unwrap();
    let answer = client.send(request).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        Bytes::from("radiology POST /dicom-web/studies 10")
    );
    assert_eq!(answer.headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn builtin_without_a_service_is_503_with_an_outcome() {
    let gateway = TestGateway::start_with("", None).await;
    let mut client = gateway.client(b"http/1.1").await;
    let answer = client.get("/radiology/dicom-web/studies").await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.outcome_code(), "wardgate.department.unavailable");
}

#[tokio::test]
async fn unreachable_and_slow_upstreams_are_502_and_504() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let unreachable = client.get("/pharmacy/fhir/MedicationRequest").await;
    assert_eq!(unreachable.status, 502);
    assert_eq!(unreachable.outcome_code(), "wardgate.upstream.unavailable");
    let text = String::from_utf8_lossy(&unreachable.body);
    assert!(
        !text.contains("127.0.0.1:1"),
        "the upstream's address leaked: {text}"
    );

    let slow = client.get("/emergency/wait/3000").await;
    assert_eq!(slow.status, 504);
    assert_eq!(slow.outcome_code(), "wardgate.upstream.timeout");
}

#[tokio::test]
async fn an_upload_longer_than_the_response_timeout_is_answered() {
    // The response timeout (1 s in the test policy) runs from the end of the request body: an
    // upload that streams for 1.5 s (within the 2 s body read timeout) is not a slow upstream.
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let chunks = futures_util::stream::unfold(0, |sent| async move {
        if sent == 3 {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let frame = hyper::body::Frame::data(Bytes::from("chunk;"));
        Some((Ok::<_, std::io::Error>(frame), sent + 1))
    });
    let request = Request::post("/emergency/fhir/Binary")
        .header("host", "localhost")
        // Binary media stream to the upstream as they arrive (not read whole first).
        .header("content-type", "application/octet-stream")
        .body(StreamBody::new(chunks).boxed())
        .unwrap();
    let answer = client.send(request).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["body"], "chunk;chunk;chunk;");
}

#[tokio::test]
async fn unknown_and_abnormal_paths_are_404() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    for path in [
        "/",
        "/unknown/fhir/Patient",
        "/emergency/../pumps/fhir",
        "/emergency/%2e%2e/pumps/",
    ] {
        let answer = client.get(path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.outcome_code(), "wardgate.route.unknown");
        let json = answer.json();
        let request_id = answer.headers["x-request-id"].to_str().unwrap();
        assert!(
            json.to_string().contains(request_id),
            "the outcome carries the request id"
        );
    }
    assert_eq!(gateway.upstream.seen(), 0);
}

#[tokio::test]
async fn https_upstreams_are_verified_against_the_hospital_ca() {
    // The TLS upstream has a certificate from the hospital CA (trusted for upstreams); one
    // from a stranger's CA is refused with 502 before any request reaches it.
    let pki = crate::support::TestPki::new();
    let trusted = crate::support::Upstream::start_tls(&pki).await;
    let stranger = crate::support::Upstream::start_tls(&crate::support::TestPki::new()).await;
    let extra = format!(
        "[departments.imaging]\nprefix = \"/imaging/\"\nupstream = \"https://localhost:{}\"\n\
         [departments.outside]\nprefix = \"/outside/\"\nupstream = \"https://localhost:{}\"\n",
        trusted.addr.port(),
        stranger.addr.port()
    );
    let gateway = TestGateway::start_with_pki(&extra, None, pki).await;
    let mut client = gateway.client(b"http/1.1").await;
    let answer = client.get("/imaging/dicom-web/studies").await;
    assert_eq!(
        answer.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["uri"], "/dicom-web/studies");
    let refused = client.get("/outside/fhir/Patient").await;
    assert_eq!(refused.status, 502);
    assert_eq!(refused.outcome_code(), "wardgate.upstream.unavailable");
    assert_eq!(stranger.seen(), 0);
}
