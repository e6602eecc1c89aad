//! FHIR awareness: what the FHIR REST grammar allows on a FHIR route, and how clinical free
//! text is judged (by what is dangerous where it is shown, not by SQL words or apostrophes).

use wardgate_fhir::rest::{FhirRequest, Interaction, classify};
use wardgate_fhir::search::{ValueCheck, check_param};
use wardgate_fhir::{is_resource_type, is_valid_id};

use crate::detect::InputKind;
use crate::verdict::{FhirIssue, bounded};

/// What the engine knows about a request on a FHIR route.
#[derive(Debug, Clone)]
pub(crate) struct FhirContext {
    /// The interaction, when the path under the base is one.
    pub request: Option<FhirRequest>,
    /// The resource type the path names (also when the rest of the path is not valid).
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
                context.resource_type = request.resource_type.clone();
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
        self.resource_type.as_deref()
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

/// Elements whose string values are text people write or read: names, notes, descriptions.
/// Sorted for binary search. Any element ending in `String` or `Markdown` (`valueString`,
/// `contentString`, `valueMarkdown`) is free text too.
const FREE_TEXT_ELEMENTS: &[&str] = &[
    "alias",
    "city",
    "comment",
    "comments",
    "conclusion",
    "copyright",
    "country",
    "description",
    "display",
    "district",
    "family",
    "given",
    "instruction",
    "label",
    "line",
    "name",
    "note",
    "outcomeDesc",
    "patientInstruction",
    "prefix",
    "purpose",
    "question",
    "requirements",
    "state",
    "subtitle",
    "suffix",
    "summary",
    "text",
    "title",
    "usage",
];

/// How a string element of a FHIR resource is judged, by its name and its parent's.
pub(crate) fn element_kind(element: Option<&str>, parent: Option<&str>) -> InputKind {
    let Some(element) = element else {
        return InputKind::JsonString;
    };
    if element == "div" && parent == Some("text") {
        return InputKind::FhirNarrative;
    }
    if FREE_TEXT_ELEMENTS.binary_search(&element).is_ok()
        || element.ends_with("String")
        || element.ends_with("Markdown")
    {
        return InputKind::ClinicalText;
    }
    InputKind::JsonString
}

/// Whether a JSON member name is a FHIR element name (`valueQuantity`, `_birthDate`): such a
/// key cannot carry an injection.
pub(crate) fn is_element_name(key: &str) -> bool {
    let mut bytes = key.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && key.len() <= 64
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

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

    #[test]
    fn the_free_text_table_is_sorted() {
        assert!(FREE_TEXT_ELEMENTS.windows(2).all(|w| w[0] < w[1]));
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
