//! HTTP/2 admission on the wire: the stream limit the policy sets is what the gateway
//! advertises, and a rapid-reset flood (CVE-2023-44487: streams opened and cancelled at once,
//! so that the server does work for requests nobody waits for) ends the connection with
//! GOAWAY `ENHANCE_YOUR_CALM`.
//!
//! The frames are written by hand (RFC 9113 framing, RFC 7541 static-table header blocks) so
//! that the test controls exactly what an attacker's client would send.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::support::{TestGateway, tls_connect};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
const CANCEL: u32 = 0x8;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// `GET path` for `localhost` as an HPACK block that uses only the static table and literals
/// without indexing, so every block stands alone.
fn get_block(path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x87]; // :method GET, :scheme https
    for (name_index, value) in [(4u8, path), (1u8, "localhost")] {
        block.push(name_index); // literal without indexing, name from the static table
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    block
}

struct Frame {
    kind: u8,
    flags: u8,
    payload: Vec<u8>,
}

async fn read_frame(io: &mut (impl AsyncRead + Unpin)) -> Option<Frame> {
    let mut head = [0u8; 9];
    io.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0; len];
    io.read_exact(&mut payload).await.ok()?;
    Some(Frame {
        kind: head[3],
        flags: head[4],
        payload,
    })
}

/// The settings of the server's first SETTINGS frame, as (identifier, value) pairs.
fn settings_of(frame: &Frame) -> Vec<(u16, u32)> {
    frame
        .payload
        .chunks_exact(6)
        .map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_policy_stream_limit_is_advertised_to_http2_clients() {
    let gateway = TestGateway::start_with("h2_max_concurrent_streams = 7", None).await;
    let mut tls = tls_connect(gateway.addr(), &gateway.pki, b"h2", None)
        .await
        .unwrap();
    tls.write_all(PREFACE).await.unwrap();
    tls.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    let first = read_frame(&mut tls).await.expect("the server's SETTINGS");
    assert_eq!(first.kind, SETTINGS);
    assert_eq!(first.flags & ACK, 0);
    let advertised = settings_of(&first)
        .into_iter()
        .find(|(id, _)| *id == SETTINGS_MAX_CONCURRENT_STREAMS)
        .map(|(_, value)| value);
    assert_eq!(advertised, Some(7));
}

#[tokio::test]
async fn a_rapid_reset_flood_ends_the_connection_with_enhance_your_calm() {
    let gateway = TestGateway::start().await;
    let mut tls = tls_connect(gateway.addr(), &gateway.pki, b"h2", None)
        .await
        .unwrap();
    let mut flood = PREFACE.to_vec();
    flood.extend(frame(SETTINGS, 0, 0, &[]));
    // Far more open-and-cancel pairs than the default policy's 50 resets per second.
    let block = get_block("/emergency/fhir/metadata");
    for n in 0..1000u32 {
        let stream = 2 * n + 1;
        flood.extend(frame(HEADERS, END_HEADERS | END_STREAM, stream, &block));
        flood.extend(frame(RST_STREAM, 0, stream, &CANCEL.to_be_bytes()));
    }
    // The server may close before it has read all of this; a write error is part of the answer.
    let _ = tls.write_all(&flood).await;
    let _ = tls.flush().await;

    let goaway = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = read_frame(&mut tls).await {
            if frame.kind == GOAWAY {
                return Some(frame);
            }
        }
        None
    })
    .await
    .expect("the gateway answers the flood within 10 s");
    let goaway = goaway.expect("a GOAWAY frame before the connection closes");
    let code = u32::from_be_bytes(goaway.payload[4..8].try_into().unwrap());
    assert_eq!(code, ENHANCE_YOUR_CALM, "GOAWAY error code");

    // The gateway itself is unharmed: a fresh connection is served.
    let mut client = gateway.anonymous(b"h2").await;
    let answer = client.get("/emergency/fhir/metadata").await;
    assert_eq!(answer.status, 200);
}
