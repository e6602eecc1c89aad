//! Every limit answered with its status code and an OperationOutcome.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, StreamBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestGateway, full};

#[tokio::test]
async fn a_head_over_the_limit_is_431_with_an_outcome() {
    let gateway = TestGateway::start().await;
    for alpn in [b"http/1.1".as_slice(), b"h2"] {
        let mut client = gateway.client(alpn).await;
        let request = Request::get(client.uri("/emergency/fhir/Patient"))
            .header("host", "localhost")
            .header("x-padding", "a".repeat(5000))
            .body(full(Bytes::new()))
            .unwrap();
        let answer = client.send(request).await.unwrap();
        assert_eq!(answer.status, 431, "{alpn:?}");
        assert_eq!(answer.outcome_code(), "wardgate.limit.header-too-large");
    }
    assert_eq!(gateway.upstream.seen(), 0);
}

#[tokio::test]
async fn a_head_far_over_the_limit_is_refused_by_hyper_with_431_and_closed() {
    let gateway = TestGateway::start().await;
    let mut raw = gateway.raw().await;
    let request = format!(
        "GET /emergency/fhir/Patient HTTP/1.1\r\nhost: localhost\r\nx-padding: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    raw.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(gateway.upstream.seen(), 0);
}

#[tokio::test]
async fn a_declared_body_over_the_route_limit_is_413_before_it_is_read() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let request = Request::post("/emergency/fhir/Patient")
        .header("host", "localhost")
        .body(full(vec![b'x'; 65 * 1024]))
        .unwrap();
    let answer = client.send(request).await.unwrap();
    assert_eq!(answer.status, 413);
    assert_eq!(answer.outcome_code(), "wardgate.limit.body-too-large");
    assert_eq!(gateway.upstream.seen(), 0);

    // The finer route allows more: the same body is accepted on POST .../Binary.
    let mut client = gateway.client(b"http/1.1").await;
    let request = Request::post("/emergency/fhir/Binary")
        .header("host", "localhost")
        .body(full(vec![b'x'; 65 * 1024]))
        .unwrap();
    let answer = client.send(request).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["body_len"], 65 * 1024);
}

#[tokio::test]
async fn a_chunked_body_growing_over_the_limit_is_cut_off_with_413() {
    let gateway = TestGateway::start().await;
    for alpn in [b"http/1.1".as_slice(), b"h2"] {
        let mut client = gateway.client(alpn).await;
        let chunks =
            (0..20).map(|_| Ok(hyper::body::Frame::data(Bytes::from(vec![b'y'; 8 * 1024]))));
        let body = StreamBody::new(futures_util::stream::iter(chunks)).boxed();
        let request = Request::post(client.uri("/emergency/fhir/Patient"))
            .header("host", "localhost")
            .body(body)
            .unwrap();
        let answer = client.send(request).await.unwrap();
        assert_eq!(answer.status, 413, "{alpn:?}");
        assert_eq!(answer.outcome_code(), "wardgate.limit.body-too-large");
    }
}

#[tokio::test]
async fn a_body_sent_too_slowly_is_cut_off_with_408() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let (sender, receiver) =
        tokio::sync::mpsc::channel::<Result<hyper::body::Frame<Bytes>, std::io::Error>>(1);
    let stream = futures_util::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let request = Request::post("/emergency/fhir/Patient")
        .header("host", "localhost")
        .body(StreamBody::new(stream).boxed())
        .unwrap();
    tokio::spawn(async move {
        let _ = sender
            .send(Ok(hyper::body::Frame::data(Bytes::from(
                "{\"resourceType\":",
            ))))
            .await;
        // Then nothing for longer than the 2 s body read timeout.
        tokio::time::sleep(Duration::from_secs(4)).await;
        drop(sender);
    });
    let answer = client.send(request).await.unwrap();
    assert_eq!(answer.status, 408);
    assert_eq!(answer.outcome_code(), "wardgate.limit.body-timeout");
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_per_client_and_route() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    // laboratory: 1 per second, burst 3.
    for _ in 0..3 {
        assert_eq!(client.get("/laboratory/fhir/Observation").await.status, 200);
    }
    let limited = client.get("/laboratory/fhir/Observation").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.outcome_code(), "wardgate.rate-limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "retry-after {retry_after}");
    // Another department has its own bucket.
    assert_eq!(client.get("/emergency/fhir/Patient").await.status, 200);
    // After the interval, one more is allowed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(client.get("/laboratory/fhir/Observation").await.status, 200);
    assert_eq!(gateway.upstream.seen(), 5);
}

#[tokio::test]
async fn connections_beyond_the_per_address_limit_are_closed_at_accept() {
    let gateway = TestGateway::start_with("max_connections_per_address = 2", None).await;
    // Logging in uses connections of its own: wait until the gateway has seen them close, or
    // one of them could still hold a slot (as happened on a loaded machine).
    gateway.token().await;
    for _ in 0..100 {
        let (_, metrics) = gateway.admin_get("/metrics").await;
        if metrics.contains("wardgate_open_connections 0\n") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut first = gateway.client(b"http/1.1").await;
    let mut second = gateway.client(b"http/1.1").await;
    assert_eq!(first.get("/emergency/fhir/Patient").await.status, 200);
    assert_eq!(second.get("/emergency/fhir/Patient").await.status, 200);
    let third = crate::support::tls_connect(gateway.addr(), &gateway.pki, b"http/1.1", None).await;
    assert!(
        third.is_err(),
        "a third connection from the same address must be refused"
    );
    drop(first);
    // The slot comes back when a connection closes.
    let mut fourth = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(stream) =
            crate::support::tls_connect(gateway.addr(), &gateway.pki, b"http/1.1", None).await
        {
            fourth = Some(stream);
            break;
        }
    }
    assert!(fourth.is_some());
    let (_, metrics) = gateway.admin_get("/metrics").await;
    assert!(
        metrics.contains("wardgate_connections_refused_total{reason=\"per-address-limit\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn two_gateways_share_the_rate_limit_through_redis() {
    let Ok(url) = std::env::var("WARDGATE_TEST_REDIS_URL") else {
        eprintln!(
            "SKIPPED: set WARDGATE_TEST_REDIS_URL=redis://127.0.0.1:6379/ to run the shared rate-limit test"
        );
        return;
    };
    // Each run gets its own key prefix, so parallel runs do not share buckets.
    let prefix = format!("wardgate-test:gw:{}:{}:", std::process::id(), uuid_like());
    let store = || async {
        let store = wardgate_guard::RedisRateLimitStore::connect(&url, &prefix)
            .await
            .unwrap();
        std::sync::Arc::new(store) as std::sync::Arc<dyn wardgate_guard::RateLimitStore>
    };
    let first =
        TestGateway::start_custom("", None, crate::support::TestPki::new(), store().await).await;
    let second =
        TestGateway::start_custom("", None, crate::support::TestPki::new(), store().await).await;
    let mut a = first.client(b"http/1.1").await;
    let mut b = second.client(b"http/1.1").await;
    // laboratory: burst 3 per client address, across both nodes.
    assert_eq!(a.get("/laboratory/fhir/Observation").await.status, 200);
    assert_eq!(b.get("/laboratory/fhir/Observation").await.status, 200);
    assert_eq!(a.get("/laboratory/fhir/Observation").await.status, 200);
    let limited = b.get("/laboratory/fhir/Observation").await;
    assert_eq!(limited.status, 429);
    assert!(limited.headers.contains_key("retry-after"));
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
