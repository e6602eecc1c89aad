//! Break-the-glass: start with a reason and step-up, widened read-mostly access marked with
//! the grant, the security officer alerted, expiry, early end, refusal for roles without it.

mod common;

use wardgate_fhir::rest::classify;
use wardgate_identity::authorize::{AccessRequest, Rule};
use wardgate_identity::{AuthError, Decision, Principal, TokenRequest};

fn decide(
    h: &common::Harness,
    p: &Principal,
    department: &str,
    method: &str,
    path: &str,
) -> Decision {
    let fhir = classify(method, path, None).unwrap();
    h.identity.authorize(
        p,
        &AccessRequest {
            department,
            fhir: &fhir,
            params: &[],
            device_zone: None,
            now: h.identity.now(),
        },
    )
}

#[tokio::test]
async fn an_emergency_widens_access_for_a_short_time_and_alerts() {
    let h = common::sqlite().await;
    // An emergency physician, member of the emergency department only.
    h.user("dr.er", &["physician"], &["emergency"]).await;
    let tokens = h.login("dr.er", &TokenRequest::default()).await;
    let p = h
        .identity
        .verify_access_token(&tokens.access_token, Some("emergency"))
        .unwrap();
    let routine = decide(&h, &p, "record", "GET", "/Condition/c1");
    assert_eq!(
        routine.rule,
        Rule::Segmentation,
        "no routine access to the record"
    );
    // The routine token is not even for the record's FHIR base.
    assert!(
        h.identity
            .verify_access_token(&tokens.access_token, Some("record"))
            .is_err()
    );

    // Declaring needs a reason and a fresh second factor.
    let no_code = h
        .identity
        .declare_break_glass(&p, "unconscious patient, no history", Some("pt-9"), None)
        .await;
    assert!(
        matches!(no_code, Err(AuthError::StepUpRequired)),
        "{no_code:?}"
    );
    let no_reason = h.identity.declare_break_glass(&p, "  ", None, None).await;
    assert!(matches!(no_reason, Err(AuthError::InvalidRequest(_))));
    h.next_totp_step();
    let code = h.code("dr.er").await;
    let emergency = h
        .identity
        .declare_break_glass(
            &p,
            "unconscious patient, no history",
            Some("pt-9"),
            Some(&code),
        )
        .await
        .expect("declared");
    assert!(emergency.expires_in <= 300);

    // The security officer is alerted with who, why and the grant id.
    let started = h.events_of("identity.break-glass.started");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["account"], "dr.er");
    assert_eq!(started[0]["type"], "110113");
    assert!(
        started[0]["detail"]
            .as_str()
            .unwrap()
            .contains("unconscious patient")
    );
    let grant = started[0]["grant"].as_str().unwrap().to_owned();

    // Widened: the record is reachable, every decision marked with the grant, confined to the
    // declared patient; deletes and department-wide searches stay closed.
    let bg = h
        .identity
        .verify_access_token(&emergency.access_token, Some("record"))
        .unwrap();
    let read = decide(&h, &bg, "record", "GET", "/Condition/c1");
    assert!(read.allowed, "{}", read.reason);
    assert_eq!(read.rule, Rule::BreakGlass);
    assert_eq!(read.break_glass.as_deref(), Some(grant.as_str()));
    assert_eq!(read.patient_filter.as_deref(), Some("pt-9"));
    let routine_still = decide(&h, &bg, "emergency", "GET", "/Patient/pt-1");
    assert_eq!(
        routine_still.rule,
        Rule::Scope,
        "routine access stays routine (not marked)"
    );
    let delete = decide(&h, &bg, "record", "DELETE", "/Condition/c1");
    assert!(!delete.allowed);
    assert_eq!(delete.rule, Rule::BreakGlassExcluded);
    assert!(!decide(&h, &bg, "record", "GET", "/_history").allowed);
    assert!(!decide(&h, &bg, "record", "POST", "/$export").allowed);
    assert!(
        !decide(&h, &bg, "record", "GET", "/Patient/pt-2/Condition").allowed,
        "another patient"
    );

    // After the configured 30 minutes, access is routine again and the end is announced.
    h.identity.clock().advance(31 * 60);
    let after = decide(&h, &bg, "record", "GET", "/Condition/c1");
    assert!(!after.allowed);
    // This call or the background sweep closes the grant; either way it is announced once.
    h.identity.expire_break_glass().await.unwrap();
    assert_eq!(
        h.identity.expire_break_glass().await.unwrap(),
        0,
        "announced once"
    );
    let ended = h.wait_events("identity.break-glass.ended", 1).await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["grant"], grant.as_str());
    let refresh = h
        .identity
        .refresh(
            emergency.refresh_token.as_deref().unwrap(),
            &TokenRequest::default(),
        )
        .await;
    assert!(
        refresh.is_err(),
        "the emergency session ends with the grant"
    );
}

#[tokio::test]
async fn an_emergency_can_be_ended_early_and_its_tokens_stop() {
    let h = common::sqlite().await;
    h.user("nurse.er", &["nurse"], &["emergency"]).await;
    let tokens = h.login("nurse.er", &TokenRequest::default()).await;
    let p = h
        .identity
        .verify_access_token(&tokens.access_token, None)
        .unwrap();
    h.next_totp_step();
    let code = h.code("nurse.er").await;
    let e = h
        .identity
        .declare_break_glass(&p, "cardiac arrest in corridor", None, Some(&code))
        .await
        .unwrap();
    let bg = h
        .identity
        .verify_access_token(&e.access_token, Some("pharmacy"))
        .unwrap();
    assert!(decide(&h, &bg, "pharmacy", "GET", "/MedicationRequest/m1").allowed);
    h.identity.end_break_glass(&bg).await.unwrap();
    assert!(
        h.identity
            .verify_access_token(&e.access_token, Some("pharmacy"))
            .is_err()
    );
    assert_eq!(h.events_of("identity.break-glass.ended").len(), 1);
}

#[tokio::test]
async fn roles_without_break_glass_cannot_declare() {
    let h = common::sqlite().await;
    h.user("clerk.no", &["admissions_clerk"], &["emergency"])
        .await;
    let tokens = h.login("clerk.no", &TokenRequest::default()).await;
    let p = h
        .identity
        .verify_access_token(&tokens.access_token, None)
        .unwrap();
    h.next_totp_step();
    let code = h.code("clerk.no").await;
    let r = h
        .identity
        .declare_break_glass(&p, "curiosity", None, Some(&code))
        .await;
    assert!(matches!(r, Err(AuthError::NotAllowed(_))), "{r:?}");
    assert!(h.events_of("identity.break-glass.started").is_empty());
}

#[tokio::test]
async fn a_sealed_emergency_account_alerts_on_every_login() {
    let h = common::sqlite().await;
    h.identity
        .add_user(wardgate_identity::NewUser {
            name: "er.sealed.1".into(),
            roles: vec!["physician".into()],
            departments: vec!["emergency".into(), "record".into()],
            password: None,
            sealed: true,
        })
        .await
        .unwrap();
    // Its password was printed once and sealed; here we set a known one to log in.
    h.identity
        .set_password("er.sealed.1", common::PASSWORD)
        .await
        .unwrap();
    h.login("er.sealed.1", &TokenRequest::default()).await;
    let alerts = h.events_of("identity.sealed-account-used");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["account"], "er.sealed.1");
}
