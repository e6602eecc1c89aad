//! The demo accounts `wardgate serve` creates on first run.

mod common;

use wardgate_identity::policy::DEFAULT_ROLES;
use wardgate_identity::{LoginStep, TokenRequest};

#[tokio::test]
async fn first_run_creates_one_working_account_per_staff_role_and_later_runs_none() {
    let h = common::sqlite().await;
    let created = h.identity.create_demo_accounts().await.unwrap();
    let mut roles: Vec<&str> = created.iter().map(|d| d.role.as_str()).collect();
    roles.sort_unstable();
    let mut expected = DEFAULT_ROLES.to_vec();
    expected.sort_unstable();
    assert_eq!(roles, expected, "one per staff role, none for system roles");
    for demo in &created {
        assert!(demo.otpauth_uri.starts_with("otpauth://totp/"));
        assert!(demo.password.len() >= 12);
        let step = h
            .identity
            .login_password(
                &demo.name,
                &demo.password,
                "127.0.0.1",
                &TokenRequest::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("{} cannot log in: {e}", demo.name));
        assert!(matches!(step, LoginStep::MfaRequired { .. }));
    }
    let nurse = created.iter().find(|d| d.role == "nurse").unwrap();
    assert_eq!(nurse.name, "demo.nurse");
    assert_eq!(nurse.departments, vec!["emergency", "record"]);
    assert!(h.identity.create_demo_accounts().await.unwrap().is_empty());
}
