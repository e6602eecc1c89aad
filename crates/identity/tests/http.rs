//! The `/auth` endpoints and SMART discovery, through `Identity::handle` as the gateway mounts
//! them.

mod common;

use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::Value;
use wardgate_identity::http::RequestContext;

fn ctx() -> RequestContext {
    RequestContext {
        peer_address: "10.3.3.3".into(),
        client_cert_fingerprint: None,
        request_id: Some("req-42".into()),
    }
}

fn post(path: &str, body: &str) -> Request<Bytes> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

fn json(response: &http::Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).expect("JSON body")
}

#[tokio::test]
async fn discovery_documents_point_at_the_endpoints() {
    let h = common::sqlite().await;
    let get = |p: &str| Request::get(p).body(Bytes::new()).unwrap();
    let r = h
        .identity
        .handle(get("/.well-known/smart-configuration"), &ctx())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc = json(&r);
    assert_eq!(doc["issuer"], common::ISSUER);
    assert_eq!(doc["jwks_uri"], format!("{}/auth/jwks", common::ISSUER));
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/auth/token", common::ISSUER)
    );
    let caps: Vec<&str> = doc["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(caps.contains(&"permission-v2") && caps.contains(&"client-confidential-asymmetric"));

    let r = h
        .identity
        .handle(
            get("/radiology/fhir/.well-known/smart-configuration"),
            &ctx(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        json(&r)["fhir_base"],
        format!("{}/radiology/fhir", common::ISSUER)
    );
    let r = h
        .identity
        .handle(get("/nowhere/fhir/.well-known/smart-configuration"), &ctx())
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(&r)["resourceType"], "OperationOutcome");

    let r = h.identity.handle(get("/auth/jwks"), &ctx()).await;
    let keys = json(&r)["keys"].as_array().cloned().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert!(keys[0].get("d").is_none(), "no private part in the JWKS");
}

#[tokio::test]
async fn the_login_flow_over_http_gives_tokens() {
    let h = common::sqlite().await;
    h.user("dr.web", &["physician"], &["emergency"]).await;
    let r = h
        .identity
        .handle(
            post(
                "/auth/login",
                &format!(
                    "username=dr.web&password={}",
                    common::PASSWORD.replace(' ', "+")
                ),
            ),
            &ctx(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let step = json(&r);
    assert_eq!(step["mfa_required"], true);
    assert!(step.get("access_token").is_none());
    let ticket = step["mfa_ticket"].as_str().unwrap().to_owned();
    let code = h.code("dr.web").await;
    let body = format!("mfa_ticket={ticket}&code={code}&scope=openid+user%2FObservation.rs");
    let r = h.identity.handle(post("/auth/mfa", &body), &ctx()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let tokens = json(&r);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid user/Observation.rs");
    assert_eq!(tokens["expires_in"], 300);
    let access = tokens["access_token"].as_str().unwrap();
    let principal = h
        .identity
        .verify_access_token(access, Some("emergency"))
        .unwrap();
    assert_eq!(principal.name, "dr.web");
    assert_eq!(principal.amr, vec!["pwd", "otp"]);

    // Refresh over the token endpoint, then revoke.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let r = h
        .identity
        .handle(
            post(
                "/auth/token",
                &format!("grant_type=refresh_token&refresh_token={refresh}"),
            ),
            &ctx(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let next = json(&r)["access_token"].as_str().unwrap().to_owned();
    let r = h
        .identity
        .handle(post("/auth/revoke", &format!("token={next}")), &ctx())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        h.identity
            .verify_access_token(&next, Some("emergency"))
            .is_err()
    );
    assert!(
        h.identity
            .verify_access_token(access, Some("emergency"))
            .is_err(),
        "the whole session is revoked"
    );
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let h = common::sqlite().await;
    h.user("nurse.real", &["nurse"], &["emergency"]).await;
    let wrong = h
        .identity
        .handle(
            post(
                "/auth/login",
                "username=nurse.real&password=wrong+password+here",
            ),
            &ctx(),
        )
        .await;
    let unknown = h
        .identity
        .handle(
            post(
                "/auth/login",
                "username=nurse.ghost&password=wrong+password+here",
            ),
            &ctx(),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), unknown.status());
    assert_eq!(wrong.body(), unknown.body());
    assert_eq!(json(&wrong)["error"], "invalid_grant");
    h.identity.disable_account("nurse.real").await.unwrap();
    let disabled = h
        .identity
        .handle(
            post(
                "/auth/login",
                &format!(
                    "username=nurse.real&password={}",
                    common::PASSWORD.replace(' ', "+")
                ),
            ),
            &ctx(),
        )
        .await;
    assert_eq!(disabled.status(), unknown.status());
    assert_eq!(disabled.body(), unknown.body());
}

#[tokio::test]
async fn errors_are_oauth_json_on_oauth_endpoints_and_operation_outcomes_elsewhere() {
    let h = common::sqlite().await;
    let r = h
        .identity
        .handle(post("/auth/token", "grant_type=password"), &ctx())
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(&r)["error"], "unsupported_grant_type");
    let r = h
        .identity
        .handle(post("/auth/token", "grant_type=a&grant_type=b"), &ctx())
        .await;
    assert_eq!(json(&r)["error"], "invalid_request");

    let r = h
        .identity
        .handle(post("/auth/break-glass", "reason=mass+casualty"), &ctx())
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    let body = json(&r);
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(body["issue"][0]["code"], "login");
    assert_eq!(body["issue"][0]["details"]["text"], "request id req-42");
    assert!(
        !String::from_utf8_lossy(r.body()).contains("Malformed"),
        "no internals"
    );
}

fn bearer_post(path: &str, token: &str, body: &str) -> Request<Bytes> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn step_up_and_break_glass_over_http() {
    let h = common::sqlite().await;
    h.user("dr.step", &["physician"], &["emergency"]).await;
    let tokens = h
        .login("dr.step", &wardgate_identity::TokenRequest::default())
        .await;

    // Step-up: a fresh auth_time for a sensitive action, the old session revoked.
    h.identity.clock().advance(20 * 60);
    let stale = h.identity.verify_access_token(&tokens.access_token, None);
    assert!(stale.is_err(), "the 5-minute token has expired by now");
    let refreshed = h
        .identity
        .refresh(
            tokens.refresh_token.as_deref().unwrap(),
            &wardgate_identity::TokenRequest::default(),
        )
        .await
        .unwrap();
    let before = h
        .identity
        .verify_access_token(&refreshed.access_token, None)
        .unwrap();
    assert!(
        h.identity.now() - before.auth_time >= 20 * 60,
        "refresh keeps the login's auth_time"
    );
    let code = h.code("dr.step").await;
    let r = h
        .identity
        .handle(
            bearer_post(
                "/auth/step-up",
                &refreshed.access_token,
                &format!("code={code}"),
            ),
            &ctx(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let stepped = json(&r)["access_token"].as_str().unwrap().to_owned();
    let after = h.identity.verify_access_token(&stepped, None).unwrap();
    assert!(h.identity.now() - after.auth_time < 5);
    assert!(
        h.identity
            .verify_access_token(&refreshed.access_token, None)
            .is_err()
    );
    // The same code cannot step up twice.
    let again = h
        .identity
        .handle(
            bearer_post("/auth/step-up", &stepped, &format!("code={code}")),
            &ctx(),
        )
        .await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);

    // Break-the-glass over HTTP, then its end.
    h.next_totp_step();
    let code = h.code("dr.step").await;
    let r = h
        .identity
        .handle(
            bearer_post(
                "/auth/break-glass",
                &stepped,
                &format!("reason=trauma+call&patient=pt-7&code={code}"),
            ),
            &ctx(),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(r.body())
    );
    let emergency = json(&r)["access_token"].as_str().unwrap().to_owned();
    let p = h
        .identity
        .verify_access_token(&emergency, Some("pharmacy"))
        .unwrap();
    assert_eq!(
        p.break_glass.as_ref().and_then(|g| g.patient.as_deref()),
        Some("pt-7")
    );
    let r = h
        .identity
        .handle(bearer_post("/auth/break-glass/end", &emergency, ""), &ctx())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        h.identity
            .verify_access_token(&emergency, Some("pharmacy"))
            .is_err()
    );
}
