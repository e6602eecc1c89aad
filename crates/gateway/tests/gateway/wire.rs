//! Raw bytes on a TLS socket: request smuggling and slowloris, as an attacker sends them.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::TestGateway;

/// Everything the gateway sends until it closes the connection (or 5 s pass).
async fn read_all(stream: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn content_length_with_transfer_encoding_cannot_smuggle_a_second_request() {
    let gateway = TestGateway::start().await;
    let mut raw = gateway.raw().await;
    // A front end trusting Content-Length would see one request; one trusting chunked, two.
    let smuggled = "GET /pumps/fhir/Device HTTP/1.1\r\nhost: localhost\r\n\r\n";
    let body = format!("0\r\n\r\n{smuggled}");
    let request = format!(
        "POST /emergency/fhir/Patient HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\ntransfer-encoding: chunked\r\n\r\n{body}",
        body.len()
    );
    raw.write_all(request.as_bytes()).await.unwrap();
    let answer = read_all(&mut raw).await;
    // Exactly one answer, then the connection is closed: the bytes after the chunked body
    // are never read as a request.
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    assert!(
        !answer.contains("wardgate.mtls.required"),
        "the smuggled request was processed: {answer}"
    );
    assert!(gateway.upstream.seen() <= 1);
}

#[tokio::test]
async fn differing_content_lengths_and_obsolete_folding_are_400() {
    let gateway = TestGateway::start().await;
    let attacks = [
        "POST /emergency/fhir/Patient HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
        "GET /emergency/fhir/Patient HTTP/1.1\r\nhost: localhost\r\nx-folded: a\r\n b\r\n\r\n",
        "POST /emergency/fhir/Patient HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: gzip\r\n\r\n",
        "POST /emergency/fhir/Patient HTTP/1.0\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    ];
    for attack in attacks {
        let mut raw = gateway.raw().await;
        raw.write_all(attack.as_bytes()).await.unwrap();
        let answer = read_all(&mut raw).await;
        assert!(
            answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.0 400"),
            "{attack:?} -> {answer:?}"
        );
    }
    assert_eq!(gateway.upstream.seen(), 0);
}

#[tokio::test]
async fn slowloris_is_cut_off_at_the_header_read_timeout() {
    let gateway = TestGateway::start().await;
    let mut raw = gateway.raw().await;
    let started = Instant::now();
    let head =
        b"GET /emergency/fhir/Patient HTTP/1.1\r\nhost: localhost\r\nx-slow: aaaaaaaaaaaaaaaaaaaa";
    let mut closed_after = None;
    // One byte a second, as a slowloris client does; the policy's header timeout is 2 s.
    for byte in head.iter() {
        if raw.write_all(&[*byte]).await.is_err() || raw.flush().await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(1), raw.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(Ok(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Err(_) => {}
        }
        if started.elapsed() > Duration::from_secs(8) {
            break;
        }
    }
    let closed_after = closed_after.expect("the slow client was never cut off");
    assert!(
        closed_after >= Duration::from_millis(1500) && closed_after < Duration::from_secs(5),
        "{closed_after:?}"
    );
    assert_eq!(gateway.upstream.seen(), 0);
}

/// How many `200` answers `answer` holds.
fn answered(answer: &[u8]) -> usize {
    String::from_utf8_lossy(answer)
        .matches("HTTP/1.1 200")
        .count()
}

/// Reads from `stream` into `answer` until it holds `count` answers or `until` has passed;
/// panics if the gateway closes the connection first.
async fn read_until_answered(
    stream: &mut (impl AsyncReadExt + Unpin),
    answer: &mut Vec<u8>,
    count: usize,
    until: Instant,
) {
    let mut buf = [0u8; 16 * 1024];
    while answered(answer) < count && Instant::now() < until {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(answer));
        answer.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn pipelined_requests_and_a_request_after_a_pause_are_all_answered() {
    let gateway = TestGateway::start().await;
    let mut raw = gateway.raw().await;
    let get = "GET /emergency/fhir/metadata HTTP/1.1\r\nhost: localhost\r\n\r\n";
    // Two requests in one write (one TLS record: the second is read with the first, and must
    // be answered although no new bytes arrive for it), then, on the idle connection, a third.
    raw.write_all(format!("{get}{get}").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    read_until_answered(&mut raw, &mut answer, 2, deadline).await;
    assert_eq!(answered(&answer), 2, "{}", String::from_utf8_lossy(&answer));
    tokio::time::sleep(Duration::from_millis(300)).await;
    raw.write_all(get.as_bytes()).await.unwrap();
    read_until_answered(&mut raw, &mut answer, 3, deadline + Duration::from_secs(5)).await;
    assert_eq!(answered(&answer), 3, "{}", String::from_utf8_lossy(&answer));
    // The client's close is seen: the connection ends (nothing more is answered).
    raw.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the connection stayed open after the client closed it"
    );
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert_eq!(gateway.upstream.seen(), 3);
}
