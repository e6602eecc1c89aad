//! A trusted external OIDC issuer: its JWKS served over HTTP on 127.0.0.1 by the test, its
//! tokens verified and mapped to wardgate roles and departments.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use wardgate_identity::policy::{JwksSource, TrustedIssuer};
use wardgate_identity::{AuthError, Credentials, Identity};

const IDP: &str = "https://keycloak.hospital.test/realms/staff";

struct Idp {
    jwks: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    url: String,
}

/// Serve the JWKS on 127.0.0.1 (an ephemeral port), counting fetches.
async fn serve_jwks() -> Idp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/protocol/openid-connect/certs",
        listener.local_addr().unwrap()
    );
    let jwks: Arc<Mutex<Vec<Value>>> = Arc::default();
    let fetches = Arc::new(AtomicUsize::new(0));
    let (keys, count) = (jwks.clone(), fetches.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (keys, count) = (keys.clone(), count.clone());
            tokio::spawn(async move {
                let service = service_fn(move |_req| {
                    count.fetch_add(1, Ordering::SeqCst);
                    let body = json!({ "keys": *keys.lock().unwrap() }).to_string();
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(body),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Idp { jwks, fetches, url }
}

/// An ES256 key of the IdP: (signing key, public JWK).
fn idp_key(kid: &str) -> (EncodingKey, Value) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let (x, y) = pair.public_key().as_ref()[1..].split_at(32);
    let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
    (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
}

fn idp_token(key: &EncodingKey, kid: &str, now: i64, claims: Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    let mut body = json!({
        "iss": IDP, "sub": "f81d4fae", "aud": "wardgate", "exp": now + 300, "iat": now,
        "preferred_username": "a.house", "realm_access": {"roles": ["doctor", "offline"]},
        "wardgate_departments": ["ED"], "auth_time": now - 10, "amr": ["pwd", "otp"],
    });
    if let (Some(b), Some(extra)) = (body.as_object_mut(), claims.as_object()) {
        for (k, v) in extra {
            b.insert(k.clone(), v.clone());
        }
    }
    jsonwebtoken::encode(&header, &body, key).unwrap()
}

async fn with_idp(url: &str) -> common::Harness {
    let h = common::sqlite().await;
    let mut policy = h.identity.policy().as_ref().clone();
    policy.trusted_issuers.push(TrustedIssuer {
        issuer: IDP.into(),
        jwks: JwksSource::Url(url.into()),
        audience: "wardgate".into(),
        username_claim: "preferred_username".into(),
        role_claim: "realm_access.roles".into(),
        role_map: BTreeMap::from([("doctor".into(), "physician".into())]),
        department_claim: Some("wardgate_departments".into()),
        department_map: BTreeMap::from([("ED".into(), "emergency".into())]),
    });
    h.identity.set_policy(policy);
    h
}

async fn authenticate(
    identity: &Identity,
    token: &str,
) -> Result<Option<wardgate_identity::Principal>, AuthError> {
    identity
        .authenticate(Credentials {
            authorization: Some(&format!("Bearer {token}")),
            client_cert_fingerprint: None,
            department: Some("emergency"),
        })
        .await
}

#[tokio::test]
async fn external_tokens_are_verified_against_the_issuers_jwks_and_mapped() {
    let idp = serve_jwks().await;
    let (key, jwk) = idp_key("kc-1");
    idp.jwks.lock().unwrap().push(jwk);
    let h = with_idp(&idp.url).await;
    let now = h.identity.now();

    let p = authenticate(&h.identity, &idp_token(&key, "kc-1", now, json!({})))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.name, "a.house");
    assert_eq!(p.issuer, IDP);
    assert_eq!(p.roles, vec!["physician"]);
    assert_eq!(p.departments, vec!["emergency"]);
    assert_eq!(p.scopes.to_string(), "user/*.cruds");
    assert!(p.has_second_factor());
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);
    // Cached: a second token costs no fetch.
    authenticate(
        &h.identity,
        &idp_token(&key, "kc-1", now, json!({"sub": "other"})),
    )
    .await
    .unwrap();
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);

    for bad in [
        idp_token(&key, "kc-1", now, json!({"aud": "someone-else"})),
        idp_token(&key, "kc-1", now, json!({"exp": now - 120})),
        idp_token(&key, "kc-1", now, json!({"iss": "https://evil.test"})),
    ] {
        let r = authenticate(&h.identity, &bad).await;
        assert!(matches!(r, Err(AuthError::InvalidToken(_))), "{r:?}");
    }
    // Unknown roles map to nothing: no scopes at all.
    let p = authenticate(
        &h.identity,
        &idp_token(
            &key,
            "kc-1",
            now,
            json!({"realm_access": {"roles": ["janitor"]}}),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(p.roles.is_empty() && p.scopes.clinical.is_empty());
}

#[tokio::test]
async fn unknown_kids_refresh_the_jwks_at_most_every_thirty_seconds() {
    let idp = serve_jwks().await;
    let (key, jwk) = idp_key("kc-1");
    idp.jwks.lock().unwrap().push(jwk);
    let h = with_idp(&idp.url).await;
    let now = h.identity.now();
    authenticate(&h.identity, &idp_token(&key, "kc-1", now, json!({})))
        .await
        .unwrap();
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);

    // The IdP rotates; the first token with the new kid arrives within the rate limit window.
    let (new_key, new_jwk) = idp_key("kc-2");
    idp.jwks.lock().unwrap().push(new_jwk);
    let early = authenticate(&h.identity, &idp_token(&new_key, "kc-2", now, json!({}))).await;
    assert!(early.is_err(), "no refresh within 30 s of the last one");
    for i in 0..20 {
        let made_up = idp_token(&new_key, &format!("junk-{i}"), now, json!({}));
        assert!(authenticate(&h.identity, &made_up).await.is_err());
    }
    assert_eq!(
        idp.fetches.load(Ordering::SeqCst),
        1,
        "made-up kids do not hammer the IdP"
    );

    h.identity.clock().advance(31);
    let later = h.identity.now();
    let p = authenticate(&h.identity, &idp_token(&new_key, "kc-2", later, json!({})))
        .await
        .unwrap();
    assert!(p.is_some());
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 2);

    // A symmetric-key trick: HS256 keyed with something public.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("kc-1".into());
    let hs = jsonwebtoken::encode(
        &header,
        &json!({"iss": IDP, "sub": "x", "aud": "wardgate", "exp": later + 60}),
        &EncodingKey::from_secret(b"kc-1").unwrap(),
    )
    .unwrap();
    assert!(authenticate(&h.identity, &hs).await.is_err());
}
