use super::*;

fn check(ty: &str, name: &str, value: &str) -> Result<ValueCheck, SearchValueError> {
    check_param(Some(ty), name, value)
}

#[test]
fn clinical_search_values_fit_their_grammar() {
    let conforming = [
        ("Patient", "birthdate", "1958-03-17"),
        ("Patient", "_count", "20"),
        (
            "Patient",
            "identifier",
            "urn:oid:1.2.36.146.595.217.0.1|MRN-OBRIEN",
        ),
        ("Patient", "_sort", "family,-birthdate"),
        ("Observation", "patient", "Patient/edge-pt-obrien"),
        ("Observation", "code", "http://loinc.org|718-7"),
        (
            "Observation",
            "code",
            "http://loinc.org|718-7,http://loinc.org|4548-4",
        ),
        ("Observation", "date", "ge2024-11-01"),
        ("Observation", "date", "lt2024-11-02T08:30:00Z"),
        ("Observation", "date", "ge2024-11-01T08:30:00.123+01:00"),
        ("Observation", "date", "ge2024-11-01T08:30:00 01:00"),
        (
            "Observation",
            "value-quantity",
            "gt5.4|http://unitsofmeasure.org|mg",
        ),
        ("Observation", "value-quantity", "7.0||g/dL"),
        ("Observation", "_include", "Observation:patient"),
        ("Observation", "_revinclude", "Provenance:target"),
        ("Observation", "_lastUpdated", "gt2024-01-01"),
        ("Observation", "subject:Patient", "edge-pt-obrien"),
        ("Observation", "code:missing", "false"),
        ("Encounter", "status", "in-progress,finished"),
        ("Condition", "clinical-status", "active"),
        ("MedicationRequest", "_summary", "count"),
        ("Patient", "_elements", "name,birthDate"),
        ("Observation", "_has:Observation:patient:code", "1234-5"),
        (
            "Patient",
            "general-practitioner",
            "https://fhir.example.org/fhir/Practitioner/7",
        ),
        ("Patient", "_id", "a1,b2"),
    ];
    for (ty, name, value) in conforming {
        assert_eq!(
            check(ty, name, value),
            Ok(ValueCheck::Conforms),
            "{ty}?{name}={value}"
        );
    }
}

#[test]
fn free_text_parameters_are_left_for_inspection() {
    let free = [
        ("Patient", "name", "O'Brien"),
        ("Patient", "family:exact", "D'Souza"),
        ("Patient", "name:contains", "select"),
        ("Patient", "address-city", "Union City"),
        ("Observation", "code:text", "haemoglobin < 7"),
        ("Observation", "subject:Patient.name", "O'Brien"),
        ("Observation", "_filter", "code eq 718-7"),
    ];
    for (ty, name, value) in free {
        assert_eq!(
            check(ty, name, value),
            Ok(ValueCheck::FreeText),
            "{ty}?{name}={value}"
        );
    }
    assert_eq!(
        check("Patient", "_getpages", "abc"),
        Ok(ValueCheck::Unknown)
    );
    assert_eq!(
        check("Observation", "subject.name", "x"),
        Ok(ValueCheck::Unknown)
    );
}

#[test]
fn injections_do_not_fit_typed_grammars() {
    let malformed = [
        ("Patient", "birthdate", "1958-03-17' OR '1'='1"),
        ("Patient", "_count", "20;DROP TABLE patients"),
        (
            "Observation",
            "code",
            "http://loinc.org|718-7' UNION SELECT password FROM users--",
        ),
        ("Observation", "code", "<script>alert(1)</script>"),
        ("Observation", "patient", "Patient/1 OR 1=1"),
        ("Observation", "patient", "../../etc/passwd"),
        (
            "Observation",
            "date",
            "ge2024-11-01T08:30:00Z<svg onload=alert(1)>",
        ),
        ("Observation", "value-quantity", "5|http://x|mg'--"),
        ("Patient", "_sort", "family;sleep(5)"),
        ("Patient", "_summary", "true'"),
        ("Observation", "_include", "Observation:patient' or 1=1"),
        ("Patient", "identifier", "x|$(cat /etc/passwd)"),
        (
            "Patient",
            "general-practitioner",
            "gopher://127.0.0.1:6379/_FLUSHALL",
        ),
    ];
    for (ty, name, value) in malformed {
        assert!(
            matches!(
                check(ty, name, value),
                Err(SearchValueError::Malformed { .. })
            ),
            "{ty}?{name}={value} should be malformed"
        );
    }
}

#[test]
fn modifiers_must_apply_to_the_type() {
    assert!(matches!(
        check("Patient", "birthdate:exact", "2020"),
        Err(SearchValueError::BadModifier { .. })
    ));
    assert!(matches!(
        check("Patient", "name:below", "x"),
        Err(SearchValueError::BadModifier { .. })
    ));
    assert!(matches!(
        check("Patient", "gender:missing", "maybe"),
        Err(SearchValueError::Malformed { .. })
    ));
    assert!(matches!(
        check("Patient", "name", &"a".repeat(MAX_VALUE_LEN + 1)),
        Err(SearchValueError::TooLong(_))
    ));
}

#[test]
fn names_split_into_base_modifier_and_chain() {
    assert_eq!(
        parse_name("subject:Patient.name"),
        ParamName {
            base: "subject",
            modifier: Some("Patient"),
            chain: vec!["name"]
        }
    );
    assert_eq!(
        parse_name("_has:Observation:patient:code"),
        ParamName {
            base: "_has",
            modifier: Some("Observation:patient:code"),
            chain: vec![]
        }
    );
    assert_eq!(
        parse_name("family:exact"),
        ParamName {
            base: "family",
            modifier: Some("exact"),
            chain: vec![]
        }
    );
}
