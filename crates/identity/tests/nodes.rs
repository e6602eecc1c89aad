//! Several gateway nodes on one store: revocation reaches every node at once, and signing
//! keys rotate without a token being refused.

mod common;

use std::time::{Duration, Instant};

use wardgate_identity::clock::Clock;
use wardgate_identity::store::StoreLocation;
use wardgate_identity::{Identity, TokenRequest};

/// Wait (bounded) until `check` holds; returns how long it took.
async fn within(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

#[tokio::test]
async fn revocation_on_one_postgres_node_takes_effect_on_the_other_at_once() {
    let Some(url) = common::postgres_url("revocation_two_nodes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = StoreLocation::Postgres {
        url,
        schema: Some(common::schema_name("nodes")),
    };
    let mut config_a = common::config(store.clone(), dir.path());
    let mut config_b = common::config(store, dir.path());
    // Polling far slower than the assertion below: only LISTEN/NOTIFY can make it in time.
    config_a.revocation_poll = Duration::from_secs(60);
    config_b.revocation_poll = Duration::from_secs(60);
    let a = common::Harness {
        identity: Identity::open(config_a).await.unwrap(),
        dir,
    };
    let b = Identity::open(config_b).await.unwrap();
    // Wait until node B's listener is subscribed: announce warm-up revocations until one
    // arrives (bounded), so the assertions below measure delivery, not start-up.
    let mut subscribed = false;
    for i in 0..200 {
        let sid = format!("warm-up-{i}");
        a.identity.revoke_session(&sid).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        if b.revocations().is_revoked("nobody", Some(&sid), 0) {
            subscribed = true;
            break;
        }
    }
    assert!(subscribed, "node B never received a notification");

    a.user("dr.multi", &["physician"], &["emergency"]).await;
    let tokens = a.login("dr.multi", &TokenRequest::default()).await;
    assert!(
        b.verify_access_token(&tokens.access_token, Some("emergency"))
            .is_ok(),
        "node B trusts node A's token"
    );

    a.identity
        .revoke_token(tokens.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    let took = within(Duration::from_secs(2), || {
        b.verify_access_token(&tokens.access_token, Some("emergency"))
            .is_err()
    })
    .await;
    assert!(
        took.is_some(),
        "node B must refuse the revoked session's token"
    );
    eprintln!("session revocation reached node B in {took:?}");

    // Disabling the account: every token of it, on every node.
    a.next_totp_step();
    let again = a.login("dr.multi", &TokenRequest::default()).await;
    assert!(
        b.verify_access_token(&again.access_token, Some("emergency"))
            .is_ok()
    );
    a.identity.disable_account("dr.multi").await.unwrap();
    let took = within(Duration::from_secs(2), || {
        b.verify_access_token(&again.access_token, Some("emergency"))
            .is_err()
    })
    .await;
    assert!(
        took.is_some(),
        "node B must refuse the disabled account's token"
    );
}

#[tokio::test]
async fn a_second_process_on_the_sqlite_file_sees_revocations_by_polling() {
    let h = common::sqlite().await;
    let config = common::config(
        StoreLocation::Sqlite(h.dir.path().join("identity.sqlite")),
        h.dir.path(),
    );
    let server = Identity::open(config).await.unwrap();
    h.user("nurse.poll", &["nurse"], &["emergency"]).await;
    let tokens = h.login("nurse.poll", &TokenRequest::default()).await;
    assert!(
        server
            .verify_access_token(&tokens.access_token, Some("emergency"))
            .is_ok()
    );
    // What `wardgate user disable` does from another process.
    h.identity.disable_account("nurse.poll").await.unwrap();
    let took = within(Duration::from_secs(3), || {
        server
            .verify_access_token(&tokens.access_token, Some("emergency"))
            .is_err()
    })
    .await;
    assert!(
        took.is_some(),
        "the server must pick the revocation up from the file"
    );
}

#[tokio::test]
async fn signing_keys_rotate_without_refusing_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreLocation::Sqlite(dir.path().join("identity.sqlite"));
    let clock = Clock::system();
    let mut config_a = common::config(store.clone(), dir.path());
    config_a.clock = clock.clone();
    let mut config_b = common::config(store, dir.path());
    config_b.clock = clock.clone();
    config_b.revocation_poll = Duration::from_secs(60);
    let a = common::Harness {
        identity: Identity::open(config_a).await.unwrap(),
        dir,
    };
    let b = Identity::open(config_b).await.unwrap();
    a.user("dr.rot", &["physician"], &["emergency"]).await;
    let before = a.login("dr.rot", &TokenRequest::default()).await;
    let old_kid = a.identity.jwks()["keys"][0]["kid"].clone();

    let new_kid = a.identity.rotate_signing_key().await.unwrap();
    // Published at once, not yet signing.
    let kids: Vec<_> = a.identity.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert_eq!(kids, vec![old_kid.clone(), serde_json::json!(new_kid)]);
    let during = a
        .identity
        .refresh(
            before.refresh_token.as_deref().unwrap(),
            &TokenRequest::default(),
        )
        .await
        .unwrap();
    assert!(
        b.verify_access_token(&during.access_token, Some("emergency"))
            .is_ok()
    );

    // Ten minutes later the new key signs; node B, which has not reloaded, learns it on the
    // first token it does not know, and the old key's tokens still verify.
    clock.advance(601);
    let after = a
        .identity
        .refresh(
            during.refresh_token.as_deref().unwrap(),
            &TokenRequest::default(),
        )
        .await
        .unwrap();
    let principal = b
        .authenticate(wardgate_identity::Credentials {
            authorization: Some(&format!("Bearer {}", after.access_token)),
            client_cert_fingerprint: None,
            department: Some("emergency"),
        })
        .await
        .unwrap();
    assert_eq!(principal.map(|p| p.name).as_deref(), Some("dr.rot"));
    // The old key leaves the JWKS once its last token has expired.
    clock.advance(301);
    let kids: Vec<_> = a.identity.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert_eq!(kids, vec![serde_json::json!(new_kid)]);
}
