//! Attacks on access and refresh tokens: each must be refused.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use wardgate_identity::keys::KeyRing;
use wardgate_identity::seal::DataKey;
use wardgate_identity::tokens::TokenError;
use wardgate_identity::{AuthError, TokenRequest};

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn refused(h: &common::Harness, token: &str, department: &str) -> TokenError {
    match h.identity.verify_access_token(token, Some(department)) {
        Err(AuthError::InvalidToken(e)) => e,
        other => panic!("token should be refused, got {other:?}"),
    }
}

/// Sign `claims` with wardgate's real current key (what an insider with the key could do).
async fn sign_with_our_key(h: &common::Harness, claims: &Value) -> String {
    let data_key = DataKey::load_or_create(h.dir.path()).unwrap();
    let records = h.identity.store().signing_keys().await.unwrap();
    let ring = KeyRing::from_records(&records, &data_key).unwrap();
    let key = ring.signer(h.identity.now()).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

async fn nurse_tokens(h: &common::Harness) -> wardgate_identity::TokenResponse {
    h.user("nurse.tok", &["nurse"], &["emergency"]).await;
    h.login("nurse.tok", &TokenRequest::default()).await
}

#[tokio::test]
async fn a_valid_token_works_where_it_is_meant_to() {
    let h = common::sqlite().await;
    let t = nurse_tokens(&h).await;
    let p = h
        .identity
        .verify_access_token(&t.access_token, Some("emergency"))
        .unwrap();
    assert_eq!(p.name, "nurse.tok");
    assert_eq!(
        claims_of(&t.access_token)["aud"],
        json!(["https://wardgate.test/emergency/fhir"])
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let h = common::sqlite().await;
    let t = nurse_tokens(&h).await;
    h.identity.clock().advance(301);
    assert_eq!(
        refused(&h, &t.access_token, "emergency"),
        TokenError::Expired
    );
}

#[tokio::test]
async fn a_request_is_judged_as_of_its_arrival() {
    let h = common::sqlite().await;
    let t = nurse_tokens(&h).await;
    let authorization = format!("Bearer {}", t.access_token);
    let credentials = wardgate_identity::Credentials {
        authorization: Some(&authorization),
        client_cert_fingerprint: None,
        department: Some("emergency"),
    };
    let now = std::time::SystemTime::now();
    let arrived_in = |seconds| now + std::time::Duration::from_secs(seconds);
    // The gateway hands over the time its request arrived: the token is valid then, and
    // expired for a request that arrived after its five minutes, whatever the clock says now.
    let valid = h
        .identity
        .authenticate_shared_at(credentials, arrived_in(0));
    assert!(matches!(valid.await, Ok(Some(_))));
    let late = h
        .identity
        .authenticate_shared_at(credentials, arrived_in(301));
    assert!(
        matches!(
            late.await,
            Err(AuthError::InvalidToken(TokenError::Expired))
        ),
        "a request that arrived after the token's expiry is refused"
    );
    // The service's clock offset (drills) applies to the arrival time as to its own reading.
    h.identity.clock().advance(301);
    let unix = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(h.identity.at(now), i64::try_from(unix).unwrap() + 301);
    let drilled = h
        .identity
        .authenticate_shared_at(credentials, arrived_in(0));
    assert!(matches!(
        drilled.await,
        Err(AuthError::InvalidToken(TokenError::Expired))
    ));
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused_even_with_our_key() {
    let h = common::sqlite().await;
    let t = nurse_tokens(&h).await;
    let mut claims = claims_of(&t.access_token);
    claims["iss"] = json!("https://evil.example");
    let forged = sign_with_our_key(&h, &claims).await;
    assert_eq!(refused(&h, &forged, "emergency"), TokenError::Issuer);
}

#[tokio::test]
async fn a_token_for_another_department_is_refused() {
    let h = common::sqlite().await;
    let t = nurse_tokens(&h).await;
    assert_eq!(
        refused(&h, &t.access_token, "radiology"),
        TokenError::Audience
    );
    assert_eq!(refused(&h, &t.access_token, "record"), TokenError::Audience);
}

#[tokio::test]
async fn alg_none_and_hs256_with_the_public_key_are_refused() {
    let h = common::sqlite().await;
    let t = nurse_tokens(&h).await;
    let claims = claims_of(&t.access_token);
    let kid = header_of(&t.access_token)["kid"].clone();
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());

    let none_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
    for forged in [
        format!("{none_header}.{body}."),
        format!("{none_header}.{body}"),
    ] {
        let e = refused(&h, &forged, "emergency");
        assert!(
            matches!(e, TokenError::Algorithm | TokenError::Malformed),
            "{e:?}"
        );
    }

    // The classic confusion: HMAC keyed with the (public) verification key.
    let jwks = h.identity.jwks();
    let x = jwks["keys"][0]["x"].as_str().unwrap();
    let public = URL_SAFE_NO_PAD.decode(x).unwrap();
    for secret in [public.as_slice(), x.as_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = kid.as_str().map(str::to_owned);
        let forged =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret).unwrap())
                .unwrap();
        assert_eq!(refused(&h, &forged, "emergency"), TokenError::Algorithm);
    }
}

#[tokio::test]
async fn a_key_not_in_the_jwks_is_refused() {
    let h = common::sqlite().await;
    let t = nurse_tokens(&h).await;
    let claims = claims_of(&t.access_token);
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let attacker = EncodingKey::from_ed_der(pkcs8.as_ref());
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    assert_eq!(pair.public_key().as_ref().len(), 32);

    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("attacker-key".into());
    let unknown_kid = jsonwebtoken::encode(&header, &claims, &attacker).unwrap();
    let r = h
        .identity
        .authenticate(wardgate_identity::Credentials {
            authorization: Some(&format!("Bearer {unknown_kid}")),
            client_cert_fingerprint: None,
            department: Some("emergency"),
        })
        .await;
    assert!(matches!(r, Err(AuthError::InvalidToken(_))), "{r:?}");

    // Our kid, the attacker's signature.
    header.kid = header_of(&t.access_token)["kid"]
        .as_str()
        .map(str::to_owned);
    let our_kid = jsonwebtoken::encode(&header, &claims, &attacker).unwrap();
    assert_eq!(refused(&h, &our_kid, "emergency"), TokenError::Signature);
}

#[tokio::test]
async fn scopes_cannot_be_escalated() {
    let h = common::sqlite().await;
    h.user("nurse.esc", &["nurse"], &["emergency"]).await;
    // Asking for more than the role allows grants only the intersection.
    let t = h
        .login(
            "nurse.esc",
            &TokenRequest {
                scope: Some("user/*.cruds user/Patient.cruds system/*.cruds".into()),
                ..TokenRequest::default()
            },
        )
        .await;
    assert_eq!(
        t.scope,
        "user/Patient.rs user/Observation.cruds user/MedicationAdministration.cru"
    );
    // Editing the scope claim breaks the signature.
    let mut claims = claims_of(&t.access_token);
    claims["scope"] = json!("user/*.cruds");
    let parts: Vec<&str> = t.access_token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(refused(&h, &tampered, "emergency"), TokenError::Signature);
    // A refresh cannot widen the session's scopes either.
    let refreshed = h
        .identity
        .refresh(
            t.refresh_token.as_deref().unwrap(),
            &TokenRequest {
                scope: Some("user/*.cruds".into()),
                ..TokenRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        refreshed.scope,
        "user/Patient.rs user/Observation.cruds user/MedicationAdministration.cru"
    );
    // A scope that does not exist is an error, not a guess.
    h.next_totp_step();
    let bad = TokenRequest {
        scope: Some("user/Observation.dus".into()),
        ..TokenRequest::default()
    };
    let ticket = match h
        .identity
        .login_password("nurse.esc", common::PASSWORD, "127.0.0.1", &bad)
        .await
        .unwrap()
    {
        wardgate_identity::LoginStep::MfaRequired { ticket, .. } => ticket,
        wardgate_identity::LoginStep::Tokens(_) => panic!("MFA expected"),
    };
    let code = h.code("nurse.esc").await;
    let r = h
        .identity
        .login_mfa(&ticket, &code, "127.0.0.1", &bad)
        .await;
    assert!(matches!(r, Err(AuthError::InvalidScope(_))), "{r:?}");
}

async fn a_reused_refresh_token_revokes_the_family(h: common::Harness) {
    let t = nurse_tokens(&h).await;
    let first_refresh = t.refresh_token.clone().unwrap();
    let second = h
        .identity
        .refresh(&first_refresh, &TokenRequest::default())
        .await
        .unwrap();
    assert_ne!(
        second.refresh_token, t.refresh_token,
        "refresh tokens rotate"
    );
    assert!(
        h.identity
            .verify_access_token(&second.access_token, Some("emergency"))
            .is_ok()
    );

    // The spent token again (stolen copy): refused, and the whole session with it.
    let reuse = h
        .identity
        .refresh(&first_refresh, &TokenRequest::default())
        .await;
    assert!(matches!(reuse, Err(AuthError::InvalidRefresh)), "{reuse:?}");
    let next = h
        .identity
        .refresh(
            second.refresh_token.as_deref().unwrap(),
            &TokenRequest::default(),
        )
        .await;
    assert!(
        matches!(next, Err(AuthError::InvalidRefresh)),
        "the legitimate holder is cut off too"
    );
    assert_eq!(
        refused(&h, &second.access_token, "emergency"),
        TokenError::Revoked
    );
    assert_eq!(
        refused(&h, &t.access_token, "emergency"),
        TokenError::Revoked
    );
    let events = h.events_of("identity.refresh-token-reuse");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["account"], "nurse.tok");
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_family_sqlite() {
    a_reused_refresh_token_revokes_the_family(common::sqlite().await).await;
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_family_postgres() {
    if let Some(h) = common::postgres("refresh_reuse").await {
        a_reused_refresh_token_revokes_the_family(h).await;
    }
}
