//! FHIR awareness: what the FHIR REST grammar allows on a FHIR route, and how clinical free
//! text is judged (by what is dangerous where it is shown, not by SQL words or apostrophes).

use wardgate_fhir::rest::{FhirRequest, Interaction, classify};
use wardgate_fhir::search::{ValueCheck, check_param};
use wardgate_fhir::{byte_table, is_resource_type, is_valid_id};

use crate::detect::InputKind;
use crate::verdict::{FhirIssue, bounded};

/// What the engine knows about a request on a FHIR route.
#[derive(Debug, Clone)]
pub(crate) struct FhirContext {
    /// The interaction, when the path under the base is one.
    pub request: Option<FhirRequest>,
    /// The resource type the path names when the path is not an interaction (when it is one,
    /// the interaction's type is the type: not copied here).
    resource_type: Option<String>,
    /// Whether the path has the `/{department}/fhir` base (its first two segments).
    pub has_base: bool,
}

impl FhirContext {
    /// Read the (once-decoded) path of a request on a FHIR route.
    pub fn new(method: &str, decoded_path: &str, query: Option<&str>) -> (Self, Option<FhirIssue>) {
        let mut segments = decoded_path.trim_start_matches('/').splitn(3, '/');
        let _department = segments.next();
        let has_base = segments.next() == Some("fhir");
        let mut context = FhirContext {
            request: None,
            resource_type: None,
            has_base,
        };
        if !has_base {
            return (context, None);
        }
        let after_base = segments.next().unwrap_or("");
        match classify(method, after_base, query) {
            Ok(request) => {
                context.request = Some(request);
                (context, None)
            }
            Err(e) => {
                let first = after_base.split(['/', '?']).next().unwrap_or("");
                context.resource_type = is_resource_type(first).then(|| first.to_owned());
                (context, Some(FhirIssue::Path(bounded(&e.to_string()))))
            }
        }
    }

    /// The resource type the request addresses.
    pub fn resource_type(&self) -> Option<&str> {
        match &self.request {
            Some(request) => request.resource_type.as_deref(),
            None => self.resource_type.as_deref(),
        }
    }

    /// The `resourceType` a body must have: the path's type on create and update, `Bundle` on
    /// a batch or transaction; `None` when any body goes (operations, patches, searches).
    pub fn expected_body_type(&self) -> Option<&str> {
        let request = self.request.as_ref()?;
        match request.interaction {
            Interaction::Create | Interaction::Update => request.resource_type.as_deref(),
            Interaction::Batch => Some("Bundle"),
            _ => None,
        }
    }

    /// The id a body must carry, if it carries one (update by id).
    pub fn expected_body_id(&self) -> Option<&str> {
        let request = self.request.as_ref()?;
        match request.interaction {
            Interaction::Update => request.id.as_deref(),
            _ => None,
        }
    }

    /// Whether a form body holds search parameters (`POST [type]/_search`).
    pub fn is_search(&self) -> bool {
        matches!(
            self.request.as_ref().map(|r| r.interaction),
            Some(Interaction::SearchType | Interaction::SearchSystem)
        )
    }
}

/// Whether a path segment fits the FHIR grammar of a path (type, id, `_history`, `$op`, ...):
/// such a segment cannot carry an injection, so it needs no detector.
pub(crate) fn segment_conforms(segment: &str) -> bool {
    is_valid_id(segment)
        || is_resource_type(segment)
        || matches!(segment, "_history" | "_search" | "*")
        || segment.strip_prefix('$').is_some_and(|op| {
            !op.is_empty()
                && op.len() <= 64
                && op.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// What to do with one search parameter on a FHIR route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchJudgement {
    /// The value fits its parameter's strict grammar: nothing to inspect.
    Conforms,
    /// Inspect the value (free text), and the name when it is not a known parameter.
    Inspect {
        /// Whether to inspect the name too.
        name: bool,
    },
    /// The value or modifier breaks the grammar: record it and inspect both.
    Invalid(FhirIssue),
}

/// Judge one (decoded) search parameter of a request on `resource_type`.
pub(crate) fn judge_search(
    resource_type: Option<&str>,
    name: &str,
    value: &str,
) -> SearchJudgement {
    match check_param(resource_type, name, value) {
        Ok(ValueCheck::Conforms) => SearchJudgement::Conforms,
        Ok(ValueCheck::FreeText) => SearchJudgement::Inspect { name: false },
        Ok(ValueCheck::Unknown) => SearchJudgement::Inspect { name: true },
        Err(e) => SearchJudgement::Invalid(FhirIssue::SearchParameter {
            name: bounded(name),
            reason: bounded(&e.to_string()),
        }),
    }
}

/// Whether a string element holds text people write or read: names, notes, descriptions.
/// Any element ending in `String` or `Markdown` (`valueString`, `contentString`,
/// `valueMarkdown`) is free text too; that is checked by the caller.
fn is_free_text_element(element: &str) -> bool {
    matches!(
        element.as_bytes(),
        b"alias"
            | b"city"
            | b"comment"
            | b"comments"
            | b"conclusion"
            | b"copyright"
            | b"country"
            | b"description"
            | b"display"
            | b"district"
            | b"family"
            | b"given"
            | b"instruction"
            | b"label"
            | b"line"
            | b"name"
            | b"note"
            | b"outcomeDesc"
            | b"patientInstruction"
            | b"prefix"
            | b"purpose"
            | b"question"
            | b"requirements"
            | b"state"
            | b"subtitle"
            | b"suffix"
            | b"summary"
            | b"text"
            | b"title"
            | b"usage"
    )
}

/// How a string element of a FHIR resource is judged, by its name and its parent's.
pub(crate) fn element_kind(element: Option<&str>, parent: Option<&str>) -> InputKind {
    let Some(element) = element else {
        return InputKind::JsonString;
    };
    if element == "div" && parent == Some("text") {
        return InputKind::FhirNarrative;
    }
    if is_free_text_element(element) || element.ends_with("String") || element.ends_with("Markdown")
    {
        return InputKind::ClinicalText;
    }
    InputKind::JsonString
}

/// Whether a strict (non free-text) string of a FHIR resource fits the grammar of its FHIR
/// datatype so narrowly that it cannot carry an injection: a token of letters, digits, `-`,
/// `_` and single dots; a date or date-time; a relative or `urn:uuid` reference; a canonical
/// URL naming a code system, profile or extension by domain name. Such a value needs no
/// detector, as a search value that fits its parameter's grammar does not. URLs a server may
/// fetch (attachments, absolute references) and anything with an IP address stay judged.
pub(crate) fn value_conforms(element: Option<&str>, parent: Option<&str>, value: &str) -> bool {
    if is_token(value) || is_date_time(value) {
        return true;
    }
    match element {
        Some("reference") => is_reference(value),
        Some("fullUrl") => is_urn(value),
        Some("system" | "profile") => is_canonical(value) || is_urn(value),
        Some("url") if matches!(parent, Some("extension" | "modifierExtension")) => {
            is_canonical(value)
        }
        _ => false,
    }
}

/// Letters, digits, `-`, `_` and dots, never two dots together or a leading dot; at most 64.
fn is_token(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 64 {
        return false;
    }
    // One pass: every byte by table, each dot against the byte before it (a leading dot is
    // one after an imagined dot).
    let mut previous = b'.';
    for &b in bytes {
        if !TOKEN_BYTE[usize::from(b)] || (b == b'.' && previous == b'.') {
            return false;
        }
        previous = b;
    }
    true
}

/// The bytes of a token: ASCII letters, digits, `-`, `_` and `.`.
static TOKEN_BYTE: [bool; 256] = byte_table(b"-_.");

/// The bytes of a canonical URL's path: ASCII letters, digits, `-`, `.`, `_`, `~` and `/`.
static PATH_BYTE: [bool; 256] = byte_table(b"-._~/");

/// Whether `bytes` holds `..`.
fn has_double_dot(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"..")
}

/// `YYYY[-MM[-DD[Thh:mm[:ss[.fff]][Z|+hh:mm]]]]`.
fn is_date_time(value: &str) -> bool {
    let b = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    if !digits(0..4) {
        return false;
    }
    let mut at = 4;
    for sep in [b'-', b'-'] {
        if at == b.len() {
            return true;
        }
        if b[at] != sep || !digits(at + 1..at + 3) {
            return false;
        }
        at += 3;
    }
    if at == b.len() {
        return true;
    }
    if b[at] != b'T'
        || !digits(at + 1..at + 3)
        || b.get(at + 3) != Some(&b':')
        || !digits(at + 4..at + 6)
    {
        return false;
    }
    at += 6;
    if b.get(at) == Some(&b':') {
        if !digits(at + 1..at + 3) {
            return false;
        }
        at += 3;
        if b.get(at) == Some(&b'.') {
            let fraction = b[at + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            if fraction == 0 || fraction > 9 {
                return false;
            }
            at += 1 + fraction;
        }
    }
    match b.get(at) {
        None => true,
        Some(b'Z') => at + 1 == b.len(),
        Some(b'+' | b'-') => {
            digits(at + 1..at + 3)
                && b.get(at + 3) == Some(&b':')
                && digits(at + 4..at + 6)
                && at + 6 == b.len()
        }
        _ => false,
    }
}

/// `Type/id`, `Type/id/_history/vid`, `#local` or a `urn:uuid:`.
fn is_reference(value: &str) -> bool {
    if let Some(local) = value.strip_prefix('#') {
        return is_valid_id(local);
    }
    if is_urn(value) {
        return true;
    }
    // Split at the first two `/` by position (ASCII, so character boundaries): a reference is
    // short, and `split_once` would set up a search for each.
    let Some(slash) = value.bytes().position(|b| b == b'/') else {
        return false;
    };
    let (rtype, rest) = (&value[..slash], &value[slash + 1..]);
    let (id, version) = match rest.bytes().position(|b| b == b'/') {
        Some(slash) => (&rest[..slash], Some(&rest[slash + 1..])),
        None => (rest, None),
    };
    if !is_resource_type(rtype) || !is_valid_id(id) || has_double_dot(id.as_bytes()) {
        return false;
    }
    match version.map(|v| v.split_once('/')) {
        None => true,
        Some(Some(("_history", vid))) => !vid.contains('/') && is_valid_id(vid),
        Some(_) => false,
    }
}

/// `urn:uuid:<hex and dashes>` or `urn:oid:<digits and dots>`.
fn is_urn(value: &str) -> bool {
    if let Some(uuid) = value.strip_prefix("urn:uuid:") {
        return !uuid.is_empty()
            && uuid.len() <= 36
            && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    }
    if let Some(oid) = value.strip_prefix("urn:oid:") {
        return !oid.is_empty()
            && oid.len() <= 64
            && oid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && !has_double_dot(oid.as_bytes());
    }
    false
}

/// `http(s)://` a domain name (its last label letters: no IP address, no `localhost`), then a
/// path of URL-safe characters without `..`, an optional `|version`; at most 256 bytes.
fn is_canonical(value: &str) -> bool {
    let Some(rest) = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
    else {
        return false;
    };
    if value.len() > 256 {
        return false;
    }
    // The host runs to the first `/` (a path follows) or `|` (a version follows); the path to
    // the first `|` after it. Every split is at an ASCII byte, a character boundary.
    let bytes = rest.as_bytes();
    let host_end = bytes
        .iter()
        .position(|&c| c == b'/' || c == b'|')
        .unwrap_or(bytes.len());
    let (path, version) = match bytes.get(host_end) {
        Some(b'/') => {
            let tail = rest.get(host_end + 1..).unwrap_or("");
            match tail.bytes().position(|b| b == b'|') {
                Some(bar) => (&tail[..bar], &tail[bar + 1..]),
                None => (tail, ""),
            }
        }
        Some(_) => ("", rest.get(host_end + 1..).unwrap_or("")),
        None => ("", ""),
    };
    is_domain_name(bytes.get(..host_end).unwrap_or(b""))
        && is_url_path(path.as_bytes())
        && (version.is_empty() || is_token(version))
}

/// Bytes of [`PATH_BYTE`] without `..`, in one pass.
fn is_url_path(path: &[u8]) -> bool {
    let mut previous = 0;
    for &b in path {
        if !PATH_BYTE[usize::from(b)] || (b == b'.' && previous == b'.') {
            return false;
        }
        previous = b;
    }
    true
}

/// Dot-separated labels of letters, digits and `-` (1 to 63 bytes each), at least two, the
/// last of at least two letters: a domain name, never an IP address or `localhost`.
fn is_domain_name(host: &[u8]) -> bool {
    let mut labels = 1;
    let mut label_len = 0;
    let mut label_letters = true;
    for &c in host {
        if c == b'.' {
            if !(1..=63).contains(&label_len) {
                return false;
            }
            labels += 1;
            label_len = 0;
            label_letters = true;
        } else if c.is_ascii_alphanumeric() || c == b'-' {
            label_len += 1;
            label_letters &= c.is_ascii_alphabetic();
        } else {
            return false;
        }
    }
    labels >= 2 && (2..=63).contains(&label_len) && label_letters
}

/// Whether a JSON member name is a FHIR element name (`valueQuantity`, `_birthDate`): such a
/// key cannot carry an injection.
pub(crate) fn is_element_name(key: &str) -> bool {
    let bytes = key.as_bytes();
    matches!(bytes.first(), Some(b) if b.is_ascii_alphabetic() || *b == b'_')
        && bytes.len() <= 64
        && bytes.iter().all(|&b| NAME_BYTE[usize::from(b)])
}

/// The bytes of an element name: ASCII letters, digits and `_` (one table lookup per byte).
static NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    table
};

/// How an attachment's decoded content is judged given its `contentType`: text is judged like
/// narrative; anything else (images, PDFs, DICOM) is not inspected.
pub(crate) fn attachment_kind(content_type: Option<&str>) -> Option<InputKind> {
    let mime = content_type?.split(';').next()?.trim();
    let is_text = mime.len() > 5 && mime[..5].eq_ignore_ascii_case("text/");
    is_text.then_some(InputKind::FhirNarrative)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_canonical` as first written, with string splits: the fast one must agree with it.
    fn canonical_by_splits(value: &str) -> bool {
        let Some(rest) = value
            .strip_prefix("http://")
            .or_else(|| value.strip_prefix("https://"))
        else {
            return false;
        };
        let (url, version) = rest.split_once('|').unwrap_or((rest, ""));
        let (host, path) = url.split_once('/').unwrap_or((url, ""));
        let labels_ok = host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        let top = host.rsplit('.').next().unwrap_or("");
        value.len() <= 256
            && host.contains('.')
            && labels_ok
            && top.len() >= 2
            && top.bytes().all(|b| b.is_ascii_alphabetic())
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/'))
            && !path.contains("..")
            && (version.is_empty() || is_token(version))
    }

    /// `is_token` as first written, in two passes.
    fn token_by_two_passes(value: &str) -> bool {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 64
            && bytes[0] != b'.'
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && !has_double_dot(bytes)
    }

    /// `is_reference` as first written, with string splits.
    fn reference_by_splits(value: &str) -> bool {
        if let Some(local) = value.strip_prefix('#') {
            return is_valid_id(local);
        }
        if is_urn(value) {
            return true;
        }
        let Some((rtype, rest)) = value.split_once('/') else {
            return false;
        };
        let (id, version) = match rest.split_once('/') {
            Some((id, version)) => (id, Some(version)),
            None => (rest, None),
        };
        if !is_resource_type(rtype) || !is_valid_id(id) || has_double_dot(id.as_bytes()) {
            return false;
        }
        match version.map(|v| v.split_once('/')) {
            None => true,
            Some(Some(("_history", vid))) => !vid.contains('/') && is_valid_id(vid),
            Some(_) => false,
        }
    }

    #[test]
    fn one_pass_tokens_and_references_are_judged_as_before() {
        let mut values = crate::detect::differential::corpus_strings();
        let long = "a".repeat(64);
        let too_long = "a".repeat(65);
        for value in [
            "", ".", "..", "a..b", ".a", "a.", "a.b.c", "a-b_c.9", "é", "a b", "a/b", &long,
            &too_long,
        ] {
            values.push(value.to_owned());
        }
        let tails = [
            "",
            "/",
            "//",
            "p1",
            "p1/",
            "p..1",
            ".p1",
            "p1/_history/2",
            "p1/_history/2/",
            "p1/_history/",
            "p1/other/2",
            "p1/_history/2/x",
            "é",
            "p 1",
        ];
        for head in ["Patient/", "Observation/", "patient/", "/", "#", "Patient"] {
            for tail in tails {
                values.push(format!("{head}{tail}"));
            }
        }
        let (mut tokens, mut references) = (0, 0);
        for value in &values {
            assert_eq!(is_token(value), token_by_two_passes(value), "{value:?}");
            assert_eq!(is_reference(value), reference_by_splits(value), "{value:?}");
            tokens += usize::from(is_token(value));
            references += usize::from(is_reference(value));
        }
        assert!(tokens > 1000 && references > 5, "{tokens} {references}");
    }

    #[test]
    fn canonical_urls_are_judged_as_by_string_splits() {
        let hosts = [
            "",
            "loinc.org",
            "hl7.org",
            "terminology.hl7.org",
            "a.b",
            "a.bc",
            "a..org",
            ".org",
            "org.",
            "localhost",
            "10.0.0.1",
            "x-y.example.com",
            "ex_ample.org",
            "a.c0m",
            "é.org",
        ];
        let tails = [
            "",
            "/",
            "/fhir/StructureDefinition/x",
            "/a/../b",
            "/a|1.0",
            "|4.0.1",
            "|",
            "/x|",
            "/x|a..b",
            "/x?y",
            "/~user",
            "|1|2",
            "/a/b/|v1",
            "//",
            "/é",
        ];
        let long = format!("http://{}.org/", "a".repeat(63));
        let too_long_label = format!("http://{}.org/", "a".repeat(64));
        let too_long = format!("https://example.org/{}", "p".repeat(240));
        let mut values = vec![long, too_long_label, too_long, "ftp://loinc.org".to_owned()];
        for scheme in ["http://", "https://", "HTTP://"] {
            for host in hosts {
                for tail in tails {
                    values.push(format!("{scheme}{host}{tail}"));
                }
            }
        }
        for value in &values {
            assert_eq!(is_canonical(value), canonical_by_splits(value), "{value:?}");
        }
        assert!(is_canonical("http://loinc.org"));
        assert!(is_canonical(
            "http://hl7.org/fhir/StructureDefinition/x|4.0.1"
        ));
    }

    #[test]
    fn references_are_type_id_and_history() {
        for good in [
            "Patient/p1",
            "Patient/p.1",
            "Observation/o-1/_history/2",
            "#contained1",
            "urn:uuid:6f1c2b9e-3d4a-4f8e-9b7a-2c5d8e1f0a34",
        ] {
            assert!(is_reference(good), "{good}");
        }
        for bad in [
            "Patient",
            "Patient/",
            "Patient/p..1",
            "Patient/p1/",
            "Patient/p1/_history",
            "Patient/p1/_history/",
            "Patient/p1/_history/2/x",
            "Patient/p1/other/2",
            "patient/p1",
            "Patient/p 1",
            "#",
            "http://example.org/Patient/p1",
        ] {
            assert!(!is_reference(bad), "{bad}");
        }
    }

    #[test]
    fn elements_are_judged_by_name_and_parent() {
        assert_eq!(
            element_kind(Some("div"), Some("text")),
            InputKind::FhirNarrative
        );
        assert_eq!(
            element_kind(Some("div"), Some("section")),
            InputKind::JsonString
        );
        for free in [
            "text",
            "family",
            "given",
            "comment",
            "valueString",
            "contentString",
            "display",
        ] {
            assert_eq!(
                element_kind(Some(free), None),
                InputKind::ClinicalText,
                "{free}"
            );
        }
        for strict in [
            "code",
            "system",
            "reference",
            "id",
            "url",
            "value",
            "status",
        ] {
            assert_eq!(
                element_kind(Some(strict), None),
                InputKind::JsonString,
                "{strict}"
            );
        }
    }

    #[test]
    fn fhir_paths_are_classified_and_refusals_explained() {
        let (c, issue) = FhirContext::new("GET", "/emergency/fhir/Patient/123", None);
        assert!(c.has_base && issue.is_none());
        assert_eq!(c.resource_type(), Some("Patient"));
        let (c, issue) = FhirContext::new("PUT", "/record/fhir/Patient/p1", None);
        assert_eq!(c.expected_body_type(), Some("Patient"));
        assert_eq!(c.expected_body_id(), Some("p1"));
        assert!(issue.is_none());
        let (c, _) = FhirContext::new("POST", "/record/fhir", None);
        assert_eq!(c.expected_body_type(), Some("Bundle"));
        let (c, issue) = FhirContext::new("GET", "/emergency/fhir/Patient/1' or '1'='1", None);
        assert!(c.request.is_none());
        assert_eq!(issue.map(|i| i.code()), Some("fhir.path"));
        let (c, issue) = FhirContext::new("GET", "/", None);
        assert!(!c.has_base && issue.is_none());
    }

    #[test]
    fn segments_and_attachments() {
        for ok in [
            "Patient",
            "edge-pt-obrien",
            "_history",
            "$everything",
            "*",
            "metadata",
        ] {
            assert!(segment_conforms(ok), "{ok}");
        }
        for bad in ["1'--", "<script>", "$", "a b", "..%2f"] {
            assert!(!segment_conforms(bad), "{bad}");
        }
        assert_eq!(
            attachment_kind(Some("text/plain; charset=utf-8")),
            Some(InputKind::FhirNarrative)
        );
        assert_eq!(attachment_kind(Some("application/pdf")), None);
        assert_eq!(attachment_kind(None), None);
        assert!(is_element_name("_birthDate") && !is_element_name("$where"));
    }

    #[test]
    fn strict_values_that_fit_their_datatype_need_no_judgement() {
        let conforms = |e: &str, p: Option<&str>, v: &str| value_conforms(Some(e), p, v);
        for (e, v) in [
            ("code", "8302-2"),
            ("status", "final"),
            ("birthDate", "1958-03-17"),
            ("effectiveDateTime", "2024-11-01T08:00:00+01:00"),
            ("issued", "2024-11-01T08:00:00.123Z"),
            ("reference", "Patient/edge-pt-obrien"),
            ("reference", "Observation/1/_history/2"),
            ("reference", "urn:uuid:5cbc121b-cd71-4428-b8b7-31e53eba8184"),
            ("reference", "#med1"),
            ("fullUrl", "urn:uuid:5cbc121b-cd71-4428-b8b7-31e53eba8184"),
            ("system", "http://loinc.org"),
            (
                "system",
                "http://terminology.hl7.org/CodeSystem/observation-category",
            ),
            ("system", "urn:oid:1.2.36.146.595.217.0.1"),
            (
                "profile",
                "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient|3.1.1",
            ),
        ] {
            assert!(conforms(e, None, v), "{e}: {v}");
        }
        assert!(conforms(
            "url",
            Some("extension"),
            "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
        ));
        for (e, v) in [
            ("code", "1' or '1'='1"),
            ("code", "../../etc/passwd"),
            ("code", ".htaccess"),
            ("birthDate", "1958-03-17' --"),
            ("reference", "Patient/../../etc/passwd"),
            ("reference", "http://169.254.169.254/latest/meta-data"),
            ("system", "http://169.254.169.254/latest"),
            ("system", "http://localhost/x"),
            ("system", "http://example.org/a/../../b"),
            ("system", "http://example.org/x?y=<script>"),
            ("url", "http://internal.example.org/x"),
            ("display", "Blood pressure"),
        ] {
            assert!(!conforms(e, None, v), "{e}: {v}");
        }
    }

    #[test]
    fn search_values_that_fit_their_type_need_no_judgement() {
        assert_eq!(
            judge_search(Some("Patient"), "birthdate", "1958-03-17"),
            SearchJudgement::Conforms
        );
        assert_eq!(
            judge_search(Some("Patient"), "name", "O'Brien"),
            SearchJudgement::Inspect { name: false }
        );
        assert_eq!(
            judge_search(Some("Patient"), "x' or 1=1", "1"),
            SearchJudgement::Inspect { name: true }
        );
        assert!(matches!(
            judge_search(Some("Patient"), "birthdate", "1' or '1'='1"),
            SearchJudgement::Invalid(FhirIssue::SearchParameter { .. })
        ));
    }
}
