//! Metrics on the admin listener, reload while traffic flows, graceful shutdown.

use std::time::Duration;

use crate::support::{TestGateway, policy_text};

#[tokio::test]
async fn metrics_are_on_the_admin_listener_and_not_on_the_public_one() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    assert_eq!(client.get("/emergency/fhir/Patient").await.status, 200);
    let public = client.get("/metrics").await;
    assert_eq!(public.status, 404);
    assert_eq!(public.outcome_code(), "wardgate.route.unknown");

    let _ = gateway.records(2).await;
    let (status, metrics) = gateway.admin_get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("wardgate_requests_total{department=\"emergency\",status=\"200\",decision=\"forwarded\"} 1"), "{metrics}");
    assert!(
        metrics.contains(
            "wardgate_requests_total{department=\"-\",status=\"404\",decision=\"refused\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("wardgate_refused_total{code=\"wardgate.route.unknown\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "wardgate_request_duration_seconds_bucket{department=\"emergency\",le=\"0.001\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("wardgate_open_connections 1"), "{metrics}");
    assert!(metrics.contains("wardgate_policy_version 1"), "{metrics}");
    assert_eq!(gateway.admin_get("/healthz").await.0, 200);
    assert_eq!(gateway.admin_get("/readyz").await.0, 200);
}

#[tokio::test]
async fn a_bad_policy_is_refused_at_reload_while_traffic_flows_and_a_good_one_applied() {
    let gateway = TestGateway::start().await;
    let mut client = gateway.client(b"http/1.1").await;
    assert_eq!(client.get("/emergency/fhir/Patient").await.status, 200);

    // Traffic keeps flowing on the open connection during the reloads.
    let traffic = {
        let mut client = gateway.client(b"h2").await;
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..30 {
                statuses.push(client.get("/emergency/fhir/Patient").await.status);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            statuses
        })
    };

    std::fs::write(
        &gateway.policy_path,
        "version = 1\n[limits]\nmax_body_bytes = \"lots\"\n",
    )
    .unwrap();
    let refused = gateway.running.reload(&gateway.policy_path);
    assert!(refused.is_err());
    assert_eq!(gateway.running.policy().version(), 1);
    assert_eq!(client.get("/emergency/fhir/Patient").await.status, 200);

    // A good policy: the laboratory is gone, a new department appears.
    let text =
        policy_text(gateway.upstream.addr, &gateway.log_path, "").replace("laboratory", "record");
    std::fs::write(&gateway.policy_path, text).unwrap();
    assert!(gateway.running.reload(&gateway.policy_path).is_ok());
    assert_eq!(gateway.running.policy().version(), 2);
    // Identity follows the reload: an account of the new department can be made and reach it.
    let token = gateway
        .login_new("test.archivist", &["physician"], &["record"], &[])
        .await;
    let mut archivist = gateway.anonymous(b"http/1.1").await.with_token(token);
    assert_eq!(archivist.get("/record/fhir/Patient").await.status, 200);
    // The old token was not issued for the new department.
    assert_eq!(client.get("/record/fhir/Patient").await.status, 401);
    assert_eq!(client.get("/laboratory/fhir/Observation").await.status, 404);

    let statuses = traffic.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let (_, metrics) = gateway.admin_get("/metrics").await;
    assert!(
        metrics.contains("wardgate_policy_reload_failures_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("wardgate_policy_version 2"), "{metrics}");
}

#[tokio::test]
async fn the_file_watcher_applies_a_changed_policy() {
    let gateway = TestGateway::start().await;
    let watcher = wardgate_policy::watch_file(
        gateway.running.policy().clone(),
        gateway.policy_path.clone(),
        Duration::from_millis(100),
        gateway.running.reload_listener(),
    );
    // The watcher takes the file's first stamp in its own task; let it, before editing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut client = gateway.client(b"http/1.1").await;
    assert_eq!(client.get("/record/fhir/Patient").await.status, 404);
    let text =
        policy_text(gateway.upstream.addr, &gateway.log_path, "").replace("laboratory", "record");
    std::fs::write(&gateway.policy_path, text).unwrap();
    let mut applied = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if gateway.running.policy().version() == 2 {
            applied = true;
            break;
        }
    }
    watcher.abort();
    assert!(applied, "the watcher did not apply the new policy");
    let token = gateway
        .login_new("test.archivist", &["physician"], &["record"], &[])
        .await;
    let mut archivist = gateway.anonymous(b"http/1.1").await.with_token(token);
    assert_eq!(archivist.get("/record/fhir/Patient").await.status, 200);
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish_and_refuses_new_connections() {
    let gateway = TestGateway::start().await;
    let addr = gateway.addr();
    let mut client = gateway.client(b"http/1.1").await;
    let in_flight = tokio::spawn(async move { client.get("/emergency/wait/800").await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let TestGateway {
        running,
        pki,
        dir: _dir,
        log_path,
        ..
    } = gateway;
    let shutdown = tokio::spawn(running.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = crate::support::tls_connect(addr, &pki, b"http/1.1", None).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted during shutdown"
    );

    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, bytes::Bytes::from("waited"));
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .unwrap()
        .unwrap();
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(
        log.lines().any(|l| l.contains("/emergency/wait/800")),
        "the in-flight exchange was not recorded"
    );
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_but_a_slow_request_is_not_cut() {
    let gateway = TestGateway::start_with("idle_timeout = \"1s\"", None).await;
    let mut client = gateway.client(b"h2").await;
    // A request that spans an idle check keeps the connection open.
    let slow = client.get("/emergency/wait/900").await;
    assert_eq!(slow.status, 200);
    assert_eq!(client.get("/emergency/fhir/Patient").await.status, 200);
    // Then silence for several idle periods: the gateway closes the connection.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let request = http::Request::get(client.uri("/emergency/fhir/Patient"))
        .body(crate::support::full(bytes::Bytes::new()))
        .unwrap();
    assert!(
        client.send(request).await.is_err(),
        "the idle HTTP/2 connection was kept open"
    );
}
