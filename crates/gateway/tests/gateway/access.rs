//! Device identity and mutual TLS, and the exchange record.

use crate::support::{Client, TestGateway, TestPki};

#[tokio::test]
async fn mtls_required_and_missing_is_403_and_never_forwarded() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    let answer = client.get("/pumps/fhir/Device").await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.outcome_code(), "wardgate.mtls.required");
    assert_eq!(gateway.upstream.seen(), 0);
}

#[tokio::test]
async fn a_device_of_an_allowed_zone_passes_and_is_recorded() {
    let gateway = TestGateway::start().await;
    let device = gateway.pki.device("pump-icu-07", "devices");
    let mut client = Client::connect(gateway.addr(), &gateway.pki, b"h2", Some(device))
        .await
        .with_token(gateway.token().await);
    let answer = client
        .get("/pumps/fhir/Device?identifier=secret-serial")
        .await;
    assert_eq!(answer.status, 200);

    // The login's two exchanges with identity come first.
    let records = gateway.records(3).await;
    let record = records
        .iter()
        .find(|r| r["path"] == "/pumps/fhir/Device")
        .unwrap();
    assert_eq!(record["device"]["name"], "pump-icu-07");
    assert_eq!(record["device"]["zone"], "devices");
    assert_eq!(record["device"]["fingerprint"].as_str().unwrap().len(), 64);
    assert_eq!(record["department"], "pumps");
    assert_eq!(record["method"], "GET");
    assert_eq!(record["path"], "/pumps/fhir/Device");
    assert_eq!(record["query"], serde_json::json!(["identifier"]));
    assert!(
        !record.to_string().contains("secret-serial"),
        "a query value reached the record"
    );
    assert_eq!(record["status"], 200);
    assert_eq!(record["decision"], "forwarded");
    assert_eq!(record["http"], "HTTP/2.0");
    assert_eq!(
        record["request_id"],
        answer.headers["x-request-id"].to_str().unwrap()
    );
    assert!(record["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(record["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(record["phases"]["authorize"]["verdict"], "passed");
    assert_eq!(record["phases"]["inspect"]["verdict"], "passed");
    assert_eq!(record["phases"]["authenticate"]["verdict"], "passed");
    assert_eq!(record["principal"]["name"], "test.physician");
    assert_eq!(
        record["principal"]["roles"],
        serde_json::json!(["physician"])
    );
    assert!(record["principal"]["token_id"].as_str().is_some());
    assert_eq!(record["authorization"]["rule"], "authz.allow.scope");
    assert_eq!(record["waf"]["outcome"], "allowed");
    assert!(record["bytes_out"].as_u64().unwrap() > 0);
    assert_eq!(record["complete"], true);
}

#[tokio::test]
async fn a_device_of_another_zone_is_refused() {
    let gateway = TestGateway::start().await;
    let device = gateway.pki.device("workstation-3", "clinical");
    let mut client = Client::connect(gateway.addr(), &gateway.pki, b"http/1.1", Some(device))
        .await
        .with_token(gateway.token().await);
    let answer = client.get("/pumps/fhir/Device").await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.outcome_code(), "wardgate.zone.denied");
    // The same device may reach a department that allows its zone.
    assert_eq!(client.get("/emergency/fhir/Patient").await.status, 200);

    let records = gateway.records(2).await;
    let refused = records.iter().find(|r| r["status"] == 403).unwrap();
    assert_eq!(refused["decision"], "refused");
    assert_eq!(refused["code"], "wardgate.zone.denied");
    assert_eq!(refused["phases"]["authorize"]["verdict"], "refused");
    assert_eq!(refused["phases"]["forward"]["verdict"], "skipped");
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_the_handshake() {
    let gateway = TestGateway::start().await;
    let stranger = TestPki::new().device("rogue", "devices");
    let result =
        crate::support::tls_connect(gateway.addr(), &gateway.pki, b"http/1.1", Some(stranger))
            .await;
    // With TLS 1.3 the client learns of the refusal on its first read.
    if let Ok(mut stream) = result {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = stream
            .write_all(b"GET /emergency/ HTTP/1.1\r\nhost: x\r\n\r\n")
            .await;
        let mut buf = [0u8; 64];
        let read = stream.read(&mut buf).await;
        assert!(
            matches!(read, Err(_) | Ok(0)),
            "a rogue certificate was accepted"
        );
    }
    assert_eq!(gateway.upstream.seen(), 0);
}

#[tokio::test]
async fn a_revoked_device_is_refused_from_its_next_request() {
    let gateway = TestGateway::start().await;
    let (cert, key) = gateway.pki.device("pump-stolen", "devices");
    let mut client = Client::connect(
        gateway.addr(),
        &gateway.pki,
        b"http/1.1",
        Some((cert.clone(), key.clone_key())),
    )
    .await
    .with_token(gateway.token().await);
    assert_eq!(client.get("/pumps/fhir/Device").await.status, 200);

    gateway
        .running
        .set_revocations(gateway.pki.revoke("pump-stolen"));
    // On the connection already open, and on a new one.
    let answer = client.get("/pumps/fhir/Device").await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.outcome_code(), "wardgate.device.revoked");
    let mut again = Client::connect(gateway.addr(), &gateway.pki, b"http/1.1", Some((cert, key)))
        .await
        .with_token(gateway.token().await);
    assert_eq!(
        again.get("/emergency/fhir/Patient").await.outcome_code(),
        "wardgate.device.revoked"
    );
    assert_eq!(gateway.upstream.seen(), 1);
}
