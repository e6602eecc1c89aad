//! Identity costs: login (dominated by Argon2id at OWASP parameters), access token validation
//! per request (cached and uncached), and the authorization decision.
//!
//! Run: `cargo bench -p wardgate-identity --bench identity`; results go in
//! `bench/results/identity-*.md` with the machine they were taken on.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use wardgate_fhir::rest::classify;
use wardgate_identity::authorize::{AccessRequest, authorize};
use wardgate_identity::keys::{self, KeyRing};
use wardgate_identity::password::{HashCost, PasswordHashing};
use wardgate_identity::policy::AccessPolicy;
use wardgate_identity::seal::DataKey;
use wardgate_identity::store::StoreLocation;
use wardgate_identity::tokens::verify_uncached;
use wardgate_identity::{Identity, IdentityConfig, LoginStep, NewUser, TokenRequest};
use zeroize::Zeroizing;

const PASSWORD: &str = "correct horse battery staple";

struct Setup {
    runtime: tokio::runtime::Runtime,
    identity: Identity,
    token: String,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = runtime.block_on(async {
        let store = StoreLocation::Sqlite(dir.path().join("identity.sqlite"));
        let mut config = IdentityConfig::new(store, dir.path().to_path_buf(), "https://bench.test");
        config.hash_cost = HashCost::OWASP;
        config.events = Some(std::sync::Arc::new(
            wardgate_identity::events::JsonLinesSink::open(dir.path(), false).expect("events"),
        ));
        let identity = Identity::open(config).await.expect("open");
        identity
            .add_user(NewUser {
                name: "dr.bench".into(),
                roles: vec!["physician".into()],
                departments: vec!["emergency".into()],
                password: Some(Zeroizing::new(PASSWORD.into())),
                sealed: false,
            })
            .await
            .expect("user");
        identity
    });
    let token = runtime.block_on(login(&identity));
    Setup {
        runtime,
        identity,
        token,
        _dir: dir,
    }
}

async fn login(identity: &Identity) -> String {
    let request = TokenRequest::default();
    let LoginStep::MfaRequired { ticket, .. } = identity
        .login_password("dr.bench", PASSWORD, "127.0.0.1", &request)
        .await
        .expect("password")
    else {
        panic!("MFA expected");
    };
    // Each login needs a fresh TOTP step (codes are accepted once).
    identity.clock().advance(30);
    let code = identity
        .current_totp_code("dr.bench", identity.now())
        .await
        .expect("code")
        .expect("enrolled");
    identity
        .login_mfa(&ticket, &code, "127.0.0.1", &request)
        .await
        .expect("mfa")
        .access_token
}

fn bench_login(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("login");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    let hashing = PasswordHashing::new(HashCost::OWASP).expect("hashing");
    let phc = hashing.hash(PASSWORD).expect("hash");
    group.bench_function("argon2id_verify_owasp", |b| {
        b.iter(|| black_box(hashing.verify(black_box(PASSWORD), &phc)))
    });
    group.bench_function("password_step_known_user", |b| {
        b.iter(|| {
            s.runtime.block_on(s.identity.login_password(
                "dr.bench",
                PASSWORD,
                "127.0.0.1",
                &TokenRequest::default(),
            ))
        })
    });
    group.bench_function("password_step_unknown_user", |b| {
        b.iter(|| {
            // Unknown names count failures like real ones; clear them so no delay builds up.
            let r = s.runtime.block_on(s.identity.login_password(
                "dr.nobody",
                PASSWORD,
                "127.0.0.2",
                &TokenRequest::default(),
            ));
            s.runtime.block_on(async {
                let _ = s.identity.unlock_address("127.0.0.2").await;
                let _ = s.identity.store().clear_failures("account:dr.nobody").await;
            });
            r
        })
    });
    group.bench_function("full_login_password_totp_tokens", |b| {
        b.iter(|| s.runtime.block_on(login(&s.identity)))
    });
    group.finish();
}

fn bench_tokens(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("token");
    group.bench_function("verify_per_request_cached", |b| {
        b.iter(|| {
            s.identity
                .verify_access_token(black_box(&s.token), Some("emergency"))
                .expect("valid")
        })
    });
    let data_key = DataKey::from_bytes(&[7u8; 32]).expect("key");
    let record = keys::generate(&data_key, 0, 0).expect("generate");
    let ring = KeyRing::from_records(&[record], &data_key).expect("ring");
    let claims = serde_json::json!({
        "iss": "https://bench.test", "sub": "s", "aud": ["https://bench.test/emergency/fhir"],
        "exp": i64::MAX / 2, "iat": 0, "jti": "j", "scope": "user/*.cruds", "auth_time": 0,
        "amr": ["pwd", "otp"], "acr": "x", "name": "n", "kind": "user", "roles": ["physician"],
        "departments": ["emergency"],
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = ring.signer(0).map(|k| k.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &ring.signer(0).expect("signer").encoding)
        .expect("sign");
    group.bench_function("verify_signature_uncached_eddsa", |b| {
        b.iter(|| verify_uncached(&ring, "https://bench.test", black_box(&token)).expect("valid"))
    });
    group.finish();
}

fn bench_authorize(c: &mut Criterion) {
    let s = setup();
    let principal = s
        .identity
        .verify_access_token(&s.token, Some("emergency"))
        .expect("valid");
    let policy = AccessPolicy::hospital_default();
    let fhir = classify("GET", "/Observation", Some("patient=p1")).expect("valid");
    let params = vec![
        ("patient".to_owned(), "p1".to_owned()),
        ("_include".to_owned(), "Observation:patient".to_owned()),
    ];
    c.bench_function("authorize/search_with_include", |b| {
        b.iter(|| {
            authorize(
                &policy,
                black_box(&principal),
                &AccessRequest {
                    department: "emergency",
                    fhir: &fhir,
                    params: &params,
                    device_zone: None,
                    now: 1_800_000_000,
                },
            )
        })
    });
}

criterion_group!(benches, bench_login, bench_tokens, bench_authorize);
criterion_main!(benches);
