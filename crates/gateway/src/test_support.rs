//! What the unit tests of several modules build alike.

/// A physician of the `bench` department, signed in with token `t1`; tests change the fields
/// they are about with struct update syntax.
pub(crate) fn principal() -> wardgate_identity::Principal {
    wardgate_identity::Principal {
        subject: "u1".to_owned(),
        name: "reader".to_owned(),
        kind: wardgate_identity::PrincipalKind::User,
        issuer: "https://gw.example".to_owned(),
        roles: vec!["physician".to_owned()],
        departments: vec!["bench".to_owned()],
        scopes: Default::default(),
        patient: None,
        zone: None,
        auth_time: 0,
        amr: vec![],
        training_valid_until: None,
        break_glass: None,
        token_id: Some("t1".to_owned()),
        session_id: None,
        client_id: None,
    }
}
