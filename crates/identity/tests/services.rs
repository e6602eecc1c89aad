//! Service accounts: mTLS certificate binding and `private_key_jwt` client assertions.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;
use wardgate_fhir::rest::classify;
use wardgate_identity::authorize::AccessRequest;
use wardgate_identity::client_assertion::{ClientAuth, JWT_BEARER_ASSERTION};
use wardgate_identity::{AuthError, Credentials, NewService, PrincipalKind};

const FINGERPRINT: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

/// An ES384 key pair: the private key for signing, its public JWK set.
fn es384_key(kid: &str) -> (EncodingKey, String) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let (x, y) = point[1..].split_at(48);
    let jwks = json!({ "keys": [{
        "kty": "EC", "crv": "P-384", "alg": "ES384", "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
    }]});
    (EncodingKey::from_ec_der(pkcs8.as_ref()), jwks.to_string())
}

fn assertion(key: &EncodingKey, kid: &str, client: &str, aud: &str, jti: &str, exp: i64) -> String {
    let mut header = Header::new(Algorithm::ES384);
    header.kid = Some(kid.into());
    let claims = json!({ "iss": client, "sub": client, "aud": aud, "jti": jti, "exp": exp });
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

#[tokio::test]
async fn a_lab_analyser_gets_system_tokens_with_a_client_assertion_once_per_jti() {
    let h = common::sqlite().await;
    let (key, jwks) = es384_key("analyser-1");
    h.identity
        .add_service(NewService {
            name: "lab-analyser-3".into(),
            roles: vec!["lab_analyser".into()],
            departments: vec!["laboratory".into()],
            zone: Some("devices".into()),
            cert_fingerprint: None,
            jwks: Some(jwks),
        })
        .await
        .unwrap();
    let endpoint = h.identity.token_endpoint();
    let exp = h.identity.now() + 120;
    let jwt = assertion(
        &key,
        "analyser-1",
        "lab-analyser-3",
        &endpoint,
        "jti-1",
        exp,
    );
    let auth = ClientAuth {
        client_id: Some("lab-analyser-3"),
        assertion_type: Some(JWT_BEARER_ASSERTION),
        assertion: Some(&jwt),
        cert_fingerprint: None,
    };
    let tokens = h
        .identity
        .client_credentials(auth, Some("system/Observation.cru system/Patient.r"))
        .await
        .expect("token");
    assert_eq!(tokens.scope, "system/Observation.cru");
    assert!(tokens.refresh_token.is_none());
    let p = h
        .identity
        .verify_access_token(&tokens.access_token, Some("laboratory"))
        .unwrap();
    assert_eq!(p.kind, PrincipalKind::Service);
    assert_eq!(p.amr, vec!["private_key_jwt"]);
    let fhir = classify("POST", "/Observation", None).unwrap();
    let allowed = h.identity.authorize(
        &p,
        &AccessRequest {
            department: "laboratory",
            fhir: &fhir,
            params: &[],
            device_zone: Some("devices"),
            now: h.identity.now(),
        },
    );
    assert!(allowed.allowed, "{}", allowed.reason);

    // Replay of the same assertion.
    let replay = h.identity.client_credentials(auth, None).await;
    assert!(
        matches!(replay, Err(AuthError::InvalidClient(_))),
        "{replay:?}"
    );
    assert_eq!(h.events_of("identity.assertion-replay").len(), 1);

    // Wrong audience, too long a lifetime, a foreign key, the wrong algorithm.
    let wrong_aud = assertion(
        &key,
        "analyser-1",
        "lab-analyser-3",
        "https://elsewhere/token",
        "jti-2",
        exp,
    );
    let too_long = assertion(
        &key,
        "analyser-1",
        "lab-analyser-3",
        &endpoint,
        "jti-3",
        h.identity.now() + 3600,
    );
    let (other_key, _) = es384_key("analyser-1");
    let foreign = assertion(
        &other_key,
        "analyser-1",
        "lab-analyser-3",
        &endpoint,
        "jti-4",
        exp,
    );
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"iss": "lab-analyser-3", "sub": "lab-analyser-3", "aud": endpoint, "jti": "jti-5", "exp": exp}),
        &EncodingKey::from_secret(b"guess").unwrap(),
    )
    .unwrap();
    for bad in [wrong_aud, too_long, foreign, hs] {
        let r = h
            .identity
            .client_credentials(
                ClientAuth {
                    assertion: Some(&bad),
                    ..auth
                },
                None,
            )
            .await;
        assert!(matches!(r, Err(AuthError::InvalidClient(_))), "{r:?}");
    }
}

#[tokio::test]
async fn an_interface_engine_authenticates_by_its_certificate() {
    let h = common::sqlite().await;
    h.identity
        .add_service(NewService {
            name: "hl7-engine".into(),
            roles: vec!["interface_engine".into()],
            departments: vec!["emergency".into()],
            zone: Some("clinical".into()),
            cert_fingerprint: Some(FINGERPRINT.into()),
            jwks: None,
        })
        .await
        .unwrap();
    let fingerprint = FINGERPRINT.replace(':', "").to_lowercase();
    let p = h
        .identity
        .authenticate(Credentials {
            authorization: None,
            client_cert_fingerprint: Some(&fingerprint),
            department: Some("emergency"),
        })
        .await
        .unwrap()
        .expect("a principal");
    assert_eq!(p.name, "hl7-engine");
    assert_eq!(p.amr, vec!["mtls"]);
    assert_eq!(
        p.scopes.to_string(),
        "system/Patient.crus system/Encounter.crus"
    );

    let unknown = h
        .identity
        .authenticate(Credentials {
            authorization: None,
            client_cert_fingerprint: Some(&"0".repeat(64)),
            department: Some("emergency"),
        })
        .await;
    assert!(matches!(unknown, Err(AuthError::InvalidClient(_))));

    let tokens = h
        .identity
        .client_credentials(
            ClientAuth {
                client_id: Some("hl7-engine"),
                cert_fingerprint: Some(&fingerprint),
                ..ClientAuth::default()
            },
            None,
        )
        .await
        .unwrap();
    assert!(
        h.identity
            .verify_access_token(&tokens.access_token, Some("emergency"))
            .is_ok()
    );
    let anonymous = h
        .identity
        .authenticate(Credentials::default())
        .await
        .unwrap();
    assert!(anonymous.is_none());
}

#[tokio::test]
async fn a_service_needs_a_credential_and_a_usable_jwks() {
    let h = common::sqlite().await;
    let none = h
        .identity
        .add_service(NewService {
            name: "x".into(),
            roles: vec!["lab_analyser".into()],
            ..NewService::default()
        })
        .await;
    assert!(matches!(
        none,
        Err(wardgate_identity::AccountError::NoCredential)
    ));
    let symmetric = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k"}]}).to_string();
    let r = h
        .identity
        .add_service(NewService {
            name: "y".into(),
            jwks: Some(symmetric),
            ..NewService::default()
        })
        .await;
    assert!(
        matches!(r, Err(wardgate_identity::AccountError::InvalidJwks(_))),
        "{r:?}"
    );
}
