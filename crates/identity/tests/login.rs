//! Login: password, TOTP once only, recovery codes, lockout and unlock, no user enumeration.
//! Each scenario runs on SQLite and, when configured, on PostgreSQL.

mod common;

use common::{Harness, PASSWORD};
use wardgate_identity::{AuthError, LoginStep, TokenRequest};

async fn ticket(h: &Harness, name: &str) -> String {
    match h
        .identity
        .login_password(name, PASSWORD, "10.1.1.1", &TokenRequest::default())
        .await
        .expect("password accepted")
    {
        LoginStep::MfaRequired { ticket, .. } => ticket,
        LoginStep::Tokens(_) => panic!("MFA must be required for staff"),
    }
}

async fn totp_code_is_accepted_once_only(h: Harness) {
    h.user("nurse.ann", &["nurse"], &["emergency"]).await;
    let code = h.code("nurse.ann").await;
    let first = ticket(&h, "nurse.ann").await;
    let tokens = h
        .identity
        .login_mfa(&first, &code, "10.1.1.1", &TokenRequest::default())
        .await
        .expect("first use of the code");
    assert!(!tokens.access_token.is_empty());
    assert!(tokens.refresh_token.is_some());

    // The same code again, on a fresh ticket, within its validity window: a replay.
    let second = ticket(&h, "nurse.ann").await;
    let replay = h
        .identity
        .login_mfa(&second, &code, "10.1.1.1", &TokenRequest::default())
        .await;
    assert!(matches!(replay, Err(AuthError::InvalidCode)), "{replay:?}");

    // The next time step's code works on the same ticket.
    h.next_totp_step();
    let next = h.code("nurse.ann").await;
    h.identity
        .login_mfa(&second, &next, "10.1.1.1", &TokenRequest::default())
        .await
        .expect("a new step's code is accepted");

    // A spent ticket cannot be used again.
    h.next_totp_step();
    let later = h.code("nurse.ann").await;
    let spent = h
        .identity
        .login_mfa(&second, &later, "10.1.1.1", &TokenRequest::default())
        .await;
    assert!(
        matches!(spent, Err(AuthError::ChallengeExpired)),
        "{spent:?}"
    );
}

#[tokio::test]
async fn totp_replay_is_refused_sqlite() {
    totp_code_is_accepted_once_only(common::sqlite().await).await;
}

#[tokio::test]
async fn totp_replay_is_refused_postgres() {
    if let Some(h) = common::postgres("totp_replay").await {
        totp_code_is_accepted_once_only(h).await;
    }
}

#[tokio::test]
async fn recovery_codes_work_once() {
    let h = common::sqlite().await;
    let created = h
        .identity
        .add_user(wardgate_identity::NewUser {
            name: "dr.rec".into(),
            roles: vec!["physician".into()],
            departments: vec!["emergency".into()],
            password: Some(zeroize::Zeroizing::new(PASSWORD.into())),
            sealed: false,
        })
        .await
        .unwrap();
    let code = created.recovery_codes[0].to_string();
    let t = ticket(&h, "dr.rec").await;
    h.identity
        .login_mfa(
            &t,
            &code.to_uppercase(),
            "10.1.1.1",
            &TokenRequest::default(),
        )
        .await
        .expect("recovery code accepted");
    let t = ticket(&h, "dr.rec").await;
    let again = h
        .identity
        .login_mfa(&t, &code, "10.1.1.1", &TokenRequest::default())
        .await;
    assert!(matches!(again, Err(AuthError::InvalidCode)), "{again:?}");
}

async fn lockout_and_unlock(h: Harness) {
    h.user("clerk.bob", &["admissions_clerk"], &["emergency"])
        .await;
    // Five wrong passwords lock the account (threshold 5 in the test configuration).
    for _ in 0..5 {
        let r = h
            .identity
            .login_password(
                "clerk.bob",
                "not the password at all",
                "10.2.2.2",
                &TokenRequest::default(),
            )
            .await;
        assert!(matches!(r, Err(AuthError::InvalidCredentials)), "{r:?}");
    }
    // Now even the right password is refused, with a retry hint.
    let locked = h
        .identity
        .login_password("clerk.bob", PASSWORD, "10.2.2.3", &TokenRequest::default())
        .await;
    assert!(
        matches!(locked, Err(AuthError::Locked { retry_after }) if retry_after > 0),
        "{locked:?}"
    );
    let lockouts = h.events_of("identity.lockout");
    assert_eq!(lockouts.len(), 1, "{lockouts:?}");
    assert_eq!(lockouts[0]["account"], "clerk.bob");
    let listed = h.identity.list_accounts().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|a| a.name == "clerk.bob" && a.locked_until.is_some())
    );

    // An administrator unlocks: the right password works again.
    h.identity.unlock("clerk.bob").await.unwrap();
    assert_eq!(h.events_of("identity.unlock").len(), 1);
    ticket(&h, "clerk.bob").await;

    // Lock again, then let the cool-down pass instead.
    for _ in 0..5 {
        let _ = h
            .identity
            .login_password(
                "clerk.bob",
                "still not the password",
                "10.2.2.2",
                &TokenRequest::default(),
            )
            .await;
    }
    assert!(matches!(
        h.identity
            .login_password("clerk.bob", PASSWORD, "10.2.2.3", &TokenRequest::default())
            .await,
        Err(AuthError::Locked { .. })
    ));
    h.identity.clock().advance(601);
    ticket(&h, "clerk.bob").await;
    assert_eq!(h.events_of("identity.lockout").len(), 2);
}

#[tokio::test]
async fn lockout_and_unlock_sqlite() {
    lockout_and_unlock(common::sqlite().await).await;
}

#[tokio::test]
async fn lockout_and_unlock_postgres() {
    if let Some(h) = common::postgres("lockout").await {
        lockout_and_unlock(h).await;
    }
}

#[tokio::test]
async fn the_failures_of_one_address_lock_it_across_accounts() {
    let h = common::sqlite().await;
    // Spraying one password over many names: the address threshold (50) is reached.
    for i in 0..50 {
        let _ = h
            .identity
            .login_password(
                &format!("user{i}"),
                "Summer2026!!",
                "10.9.9.9",
                &TokenRequest::default(),
            )
            .await;
    }
    h.user("nurse.cid", &["nurse"], &["emergency"]).await;
    let from_sprayer = h
        .identity
        .login_password("nurse.cid", PASSWORD, "10.9.9.9", &TokenRequest::default())
        .await;
    assert!(
        matches!(from_sprayer, Err(AuthError::Locked { .. })),
        "{from_sprayer:?}"
    );
    let elsewhere = h
        .identity
        .login_password("nurse.cid", PASSWORD, "10.9.9.10", &TokenRequest::default())
        .await;
    assert!(
        matches!(elsewhere, Ok(LoginStep::MfaRequired { .. })),
        "{elsewhere:?}"
    );
    assert!(
        h.events_of("identity.lockout")
            .iter()
            .any(|e| e["address"] == "10.9.9.9")
    );
}

#[tokio::test]
async fn a_disabled_account_cannot_log_in_and_its_tokens_stop() {
    let h = common::sqlite().await;
    h.user("dr.gone", &["physician"], &["emergency"]).await;
    let tokens = h.login("dr.gone", &TokenRequest::default()).await;
    assert!(
        h.identity
            .verify_access_token(&tokens.access_token, Some("emergency"))
            .is_ok()
    );
    h.identity.disable_account("dr.gone").await.unwrap();
    let r = h
        .identity
        .verify_access_token(&tokens.access_token, Some("emergency"));
    assert!(matches!(r, Err(AuthError::InvalidToken(_))), "{r:?}");
    let refresh = h
        .identity
        .refresh(
            tokens.refresh_token.as_deref().unwrap(),
            &TokenRequest::default(),
        )
        .await;
    assert!(refresh.is_err());
    let login = h
        .identity
        .login_password("dr.gone", PASSWORD, "10.1.1.1", &TokenRequest::default())
        .await;
    assert!(
        matches!(login, Err(AuthError::InvalidCredentials)),
        "{login:?}"
    );
}

#[tokio::test]
async fn weak_passwords_are_refused_at_creation() {
    let h = common::sqlite().await;
    let r = h
        .identity
        .add_user(wardgate_identity::NewUser {
            name: "weak".into(),
            roles: vec!["nurse".into()],
            departments: vec![],
            password: Some(zeroize::Zeroizing::new("1qaz2wsx3edc".into())),
            sealed: false,
        })
        .await;
    assert!(
        matches!(r, Err(wardgate_identity::AccountError::WeakPassword(_))),
        "{r:?}"
    );
}
