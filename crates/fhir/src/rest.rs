//! Reading a request on a FHIR base as one of the RESTful interactions of FHIR R4.
//!
//! The gateway classifies every request on `/{department}/fhir/...` once; the firewall,
//! authorization and the department services all act on the same [`FhirRequest`].

use crate::{is_resource_type, is_valid_id};

/// The level an `$operation` is invoked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationLevel {
    /// `[base]/$op`.
    System,
    /// `[base]/[type]/$op`.
    Type,
    /// `[base]/[type]/[id]/$op`.
    Instance,
}

/// A FHIR R4 RESTful interaction (<https://hl7.org/fhir/R4/http.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interaction {
    /// `GET [base]/metadata`.
    Capabilities,
    /// `GET [base]/[type]/[id]`.
    Read,
    /// `GET [base]/[type]/[id]/_history/[vid]`.
    Vread,
    /// `PUT [base]/[type]/[id]`, or a conditional update `PUT [base]/[type]?params`.
    Update,
    /// `PATCH [base]/[type]/[id]`, or a conditional patch.
    Patch,
    /// `DELETE [base]/[type]/[id]`, or a conditional delete.
    Delete,
    /// `POST [base]/[type]`.
    Create,
    /// `GET [base]/[type]?params` or `POST [base]/[type]/_search`.
    SearchType,
    /// `GET [base]?params` or `POST [base]/_search`.
    SearchSystem,
    /// `GET [base]/[compartment type]/[id]/[type or *]`.
    SearchCompartment,
    /// `GET [base]/[type]/[id]/_history`.
    HistoryInstance,
    /// `GET [base]/[type]/_history`.
    HistoryType,
    /// `GET [base]/_history`.
    HistorySystem,
    /// `POST [base]` with a `batch` or `transaction` Bundle.
    Batch,
    /// `[base]/.../$name`.
    Operation(OperationLevel),
}

impl Interaction {
    /// The SMART v2 permission letter this interaction needs (`c`, `r`, `u`, `d`, `s`).
    ///
    /// `None` for interactions SMART does not cover: capabilities (public), batch (each entry
    /// is authorized on its own) and operations (which need an explicit policy each).
    pub fn smart_permission(self) -> Option<char> {
        match self {
            Interaction::Read | Interaction::Vread | Interaction::HistoryInstance => Some('r'),
            Interaction::Update | Interaction::Patch => Some('u'),
            Interaction::Delete => Some('d'),
            Interaction::Create => Some('c'),
            Interaction::SearchType
            | Interaction::SearchSystem
            | Interaction::SearchCompartment
            | Interaction::HistoryType
            | Interaction::HistorySystem => Some('s'),
            Interaction::Capabilities | Interaction::Batch | Interaction::Operation(_) => None,
        }
    }

    /// The FHIR `restful-interaction` code, used as the AuditEvent subtype.
    pub fn name(self) -> &'static str {
        match self {
            Interaction::Capabilities => "capabilities",
            Interaction::Read => "read",
            Interaction::Vread => "vread",
            Interaction::Update => "update",
            Interaction::Patch => "patch",
            Interaction::Delete => "delete",
            Interaction::Create => "create",
            Interaction::SearchType => "search-type",
            Interaction::SearchSystem => "search-system",
            Interaction::SearchCompartment => "search-compartment",
            Interaction::HistoryInstance => "history-instance",
            Interaction::HistoryType => "history-type",
            Interaction::HistorySystem => "history-system",
            Interaction::Batch => "batch",
            Interaction::Operation(_) => "operation",
        }
    }

    /// The AuditEvent action code: `C`, `R`, `U`, `D` or `E` (execute: search, operation).
    pub fn audit_action(self) -> char {
        match self {
            Interaction::Create => 'C',
            Interaction::Read
            | Interaction::Vread
            | Interaction::HistoryInstance
            | Interaction::Capabilities => 'R',
            Interaction::Update | Interaction::Patch => 'U',
            Interaction::Delete => 'D',
            _ => 'E',
        }
    }

    /// Whether the interaction only reads (never changes stored data).
    pub fn is_read_only(self) -> bool {
        matches!(self.audit_action(), 'R') || matches!(self.smart_permission(), Some('s'))
    }
}

/// One request on a FHIR base, read as an interaction on a resource type, id and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirRequest {
    /// The interaction.
    pub interaction: Interaction,
    /// The resource type the interaction acts on (for a compartment search: the searched type,
    /// `None` for `*`).
    pub resource_type: Option<String>,
    /// The logical id, for instance-level interactions.
    pub id: Option<String>,
    /// The version id, for `vread`.
    pub version_id: Option<String>,
    /// The operation's name without `$`, for operations.
    pub operation: Option<String>,
    /// The compartment `(type, id)` of a compartment search, e.g. `("Patient", "123")`.
    pub compartment: Option<(String, String)>,
    /// Whether a type-level update, patch or delete is conditional (selected by search
    /// parameters in the query rather than an id).
    pub conditional: bool,
}

impl FhirRequest {
    fn new(interaction: Interaction) -> Self {
        FhirRequest {
            interaction,
            resource_type: None,
            id: None,
            version_id: None,
            operation: None,
            compartment: None,
            conditional: false,
        }
    }

    fn on_type(mut self, resource_type: &str) -> Self {
        self.resource_type = Some(resource_type.to_owned());
        self
    }

    fn on_instance(mut self, resource_type: &str, id: &str) -> Self {
        self.resource_type = Some(resource_type.to_owned());
        self.id = Some(id.to_owned());
        self
    }
}

/// Why a request on a FHIR base is not a FHIR interaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// The path names a type that is not an R4 resource type.
    #[error("'{0}' is not a FHIR R4 resource type")]
    UnknownResourceType(String),
    /// The path's id does not follow the FHIR id grammar.
    #[error("'{0}' is not a valid FHIR id ([A-Za-z0-9-.], at most 64 characters)")]
    InvalidId(String),
    /// The method is not allowed on this kind of path.
    #[error("method {method} is not allowed on {what}")]
    MethodNotAllowed {
        /// The request's method.
        method: String,
        /// What the path addresses, e.g. "a resource instance".
        what: &'static str,
    },
    /// The operation name is not `$` followed by a name of letters, digits and `-`.
    #[error("'{0}' is not a valid operation name")]
    InvalidOperation(String),
    /// The path has a shape FHIR does not define.
    #[error("the path does not address a FHIR interaction")]
    UnknownPath,
}

/// Classify a request on a FHIR base.
///
/// `method` is the HTTP method (`HEAD` is read as `GET`); `path_after_base` is what follows the
/// base, e.g. `/Patient/123/_history/2` for `/emergency/fhir/Patient/123/_history/2`; `query`
/// is the raw query string without `?`, used only to tell a conditional update or delete.
pub fn classify(
    method: &str,
    path_after_base: &str,
    query: Option<&str>,
) -> Result<FhirRequest, RestError> {
    // Every path FHIR defines has at most four segments: the first five are enough to tell
    // (a fifth makes it `UnknownPath`, as any longer path is), and they fit on the stack
    // instead of a vector allocated per request.
    let mut segments = [""; 5];
    let mut count = 0;
    for (slot, segment) in segments.iter_mut().zip(non_empty_segments(path_after_base)) {
        *slot = segment;
        count += 1;
    }
    classify_segments(method, segments.get(..count).unwrap_or_default(), query)
}

/// The non-empty segments of a path, in order.
fn non_empty_segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty())
}

/// [`classify`] as it was written before its segments were collected on the stack: all of
/// them, in a vector (for the tests and the fuzz target that compare the two).
#[cfg(any(test, fuzzing))]
pub fn classify_all_segments(
    method: &str,
    path_after_base: &str,
    query: Option<&str>,
) -> Result<FhirRequest, RestError> {
    let segments: Vec<&str> = non_empty_segments(path_after_base).collect();
    classify_segments(method, &segments, query)
}

/// [`classify`] on the path's non-empty segments.
fn classify_segments(
    method: &str,
    segments: &[&str],
    query: Option<&str>,
) -> Result<FhirRequest, RestError> {
    let method = if method.eq_ignore_ascii_case("HEAD") {
        "GET"
    } else {
        method
    };
    let not_allowed = |what: &'static str| RestError::MethodNotAllowed {
        method: method.to_owned(),
        what,
    };
    let has_query = query.is_some_and(|q| !q.is_empty());

    match segments {
        [] => match method {
            "GET" => Ok(FhirRequest::new(Interaction::SearchSystem)),
            "POST" => Ok(FhirRequest::new(Interaction::Batch)),
            _ => Err(not_allowed("the FHIR base")),
        },
        ["metadata"] => match method {
            "GET" => Ok(FhirRequest::new(Interaction::Capabilities)),
            _ => Err(not_allowed("the capability statement")),
        },
        ["_history"] => match method {
            "GET" => Ok(FhirRequest::new(Interaction::HistorySystem)),
            _ => Err(not_allowed("the system history")),
        },
        ["_search"] => match method {
            "GET" | "POST" => Ok(FhirRequest::new(Interaction::SearchSystem)),
            _ => Err(not_allowed("the system search")),
        },
        [op] if op.starts_with('$') => operation(OperationLevel::System, op, None, None),
        [ty] => {
            let ty = resource_type(ty)?;
            let interaction = match method {
                "GET" => Interaction::SearchType,
                "POST" => Interaction::Create,
                "PUT" if has_query => Interaction::Update,
                "PATCH" if has_query => Interaction::Patch,
                "DELETE" if has_query => Interaction::Delete,
                _ => return Err(not_allowed("a resource type")),
            };
            let mut request = FhirRequest::new(interaction).on_type(ty);
            request.conditional = matches!(
                interaction,
                Interaction::Update | Interaction::Patch | Interaction::Delete
            );
            Ok(request)
        }
        [ty, "_search"] => {
            let ty = resource_type(ty)?;
            match method {
                "GET" | "POST" => Ok(FhirRequest::new(Interaction::SearchType).on_type(ty)),
                _ => Err(not_allowed("a type search")),
            }
        }
        [ty, "_history"] => {
            let ty = resource_type(ty)?;
            match method {
                "GET" => Ok(FhirRequest::new(Interaction::HistoryType).on_type(ty)),
                _ => Err(not_allowed("a type history")),
            }
        }
        [ty, op] if op.starts_with('$') => {
            operation(OperationLevel::Type, op, Some(resource_type(ty)?), None)
        }
        [ty, id] => {
            let ty = resource_type(ty)?;
            let id = valid_id(id)?;
            let interaction = match method {
                "GET" => Interaction::Read,
                "PUT" => Interaction::Update,
                "PATCH" => Interaction::Patch,
                "DELETE" => Interaction::Delete,
                _ => return Err(not_allowed("a resource instance")),
            };
            Ok(FhirRequest::new(interaction).on_instance(ty, id))
        }
        [ty, id, "_history"] => {
            let (ty, id) = (resource_type(ty)?, valid_id(id)?);
            match method {
                "GET" => Ok(FhirRequest::new(Interaction::HistoryInstance).on_instance(ty, id)),
                _ => Err(not_allowed("an instance history")),
            }
        }
        [ty, id, op] if op.starts_with('$') => operation(
            OperationLevel::Instance,
            op,
            Some(resource_type(ty)?),
            Some(valid_id(id)?),
        ),
        [ty, id, searched] => {
            let (ty, id) = (resource_type(ty)?, valid_id(id)?);
            let searched = match *searched {
                "*" => None,
                other => Some(resource_type(other)?),
            };
            if method != "GET" {
                return Err(not_allowed("a compartment search"));
            }
            let mut request = FhirRequest::new(Interaction::SearchCompartment);
            request.resource_type = searched.map(str::to_owned);
            request.compartment = Some((ty.to_owned(), id.to_owned()));
            Ok(request)
        }
        [ty, id, "_history", vid] => {
            let (ty, id, vid) = (resource_type(ty)?, valid_id(id)?, valid_id(vid)?);
            if method != "GET" {
                return Err(not_allowed("a resource version"));
            }
            let mut request = FhirRequest::new(Interaction::Vread).on_instance(ty, id);
            request.version_id = Some(vid.to_owned());
            Ok(request)
        }
        _ => Err(RestError::UnknownPath),
    }
}

fn resource_type(segment: &str) -> Result<&str, RestError> {
    if is_resource_type(segment) {
        Ok(segment)
    } else {
        Err(RestError::UnknownResourceType(segment.to_owned()))
    }
}

fn valid_id(segment: &str) -> Result<&str, RestError> {
    if is_valid_id(segment) {
        Ok(segment)
    } else {
        Err(RestError::InvalidId(segment.to_owned()))
    }
}

fn operation(
    level: OperationLevel,
    segment: &str,
    resource_type: Option<&str>,
    id: Option<&str>,
) -> Result<FhirRequest, RestError> {
    let name = &segment[1..];
    let well_formed = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !well_formed {
        return Err(RestError::InvalidOperation(segment.to_owned()));
    }
    let mut request = FhirRequest::new(Interaction::Operation(level));
    request.resource_type = resource_type.map(str::to_owned);
    request.id = id.map(str::to_owned);
    request.operation = Some(name.to_owned());
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_on_the_stack_classify_as_all_segments_did() {
        let pieces = [
            "Patient",
            "123",
            "_history",
            "2",
            "_search",
            "$everything",
            "metadata",
            "*",
            "Observation",
            "bad id",
            "Nope",
            "$",
            "",
            "//",
        ];
        let mut paths = vec![String::new(), "/".to_owned(), "//".to_owned()];
        for a in pieces {
            paths.push(format!("/{a}"));
            for b in pieces {
                paths.push(format!("/{a}/{b}"));
                for c in ["Patient", "_history", "$x", "*", "7", ""] {
                    paths.push(format!("/{a}/{b}/{c}"));
                    for d in ["3", "_history", "", "Observation"] {
                        paths.push(format!("/{a}/{b}/{c}/{d}"));
                        paths.push(format!("/{a}/{b}/{c}/{d}/4"));
                        paths.push(format!("{a}/{b}/{c}/{d}/_history/5/"));
                    }
                }
            }
        }
        let mut classified = 0;
        for path in &paths {
            for method in [
                "GET", "HEAD", "head", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
            ] {
                for query in [None, Some(""), Some("identifier=x|1")] {
                    let new = classify(method, path, query);
                    classified += usize::from(new.is_ok());
                    assert_eq!(
                        new,
                        classify_all_segments(method, path, query),
                        "{method} {path} {query:?}"
                    );
                }
            }
        }
        assert!(classified > 1_000, "{classified}");
    }

    fn interaction(method: &str, path: &str, query: Option<&str>) -> Interaction {
        match classify(method, path, query) {
            Ok(r) => r.interaction,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    #[test]
    fn every_interaction_is_recognised() {
        use Interaction::*;
        let table = [
            ("GET", "/metadata", None, Capabilities),
            ("GET", "/Patient/123", None, Read),
            ("HEAD", "/Patient/123", None, Read),
            ("GET", "/Patient/123/_history/2", None, Vread),
            ("PUT", "/Patient/123", None, Update),
            ("PUT", "/Patient", Some("identifier=x|1"), Update),
            ("PATCH", "/Patient/123", None, Patch),
            ("DELETE", "/Patient/123", None, Delete),
            ("DELETE", "/Patient", Some("identifier=x|1"), Delete),
            ("POST", "/Patient", None, Create),
            ("GET", "/Patient", Some("name=O'Brien"), SearchType),
            ("POST", "/Observation/_search", None, SearchType),
            ("GET", "", Some("_type=Patient"), SearchSystem),
            ("GET", "/Patient/123/Observation", None, SearchCompartment),
            ("GET", "/Patient/123/*", None, SearchCompartment),
            ("GET", "/Patient/123/_history", None, HistoryInstance),
            ("GET", "/Patient/_history", None, HistoryType),
            ("GET", "/_history", None, HistorySystem),
            ("POST", "/", None, Batch),
            (
                "GET",
                "/Patient/123/$everything",
                None,
                Operation(OperationLevel::Instance),
            ),
            (
                "POST",
                "/Patient/$match",
                None,
                Operation(OperationLevel::Type),
            ),
            ("POST", "/$export", None, Operation(OperationLevel::System)),
        ];
        for (method, path, query, expected) in table {
            assert_eq!(
                interaction(method, path, query),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn the_parts_of_a_request_are_extracted() {
        let r = classify("GET", "/Patient/edge-pt-obrien/_history/3", None).unwrap();
        assert_eq!(r.resource_type.as_deref(), Some("Patient"));
        assert_eq!(r.id.as_deref(), Some("edge-pt-obrien"));
        assert_eq!(r.version_id.as_deref(), Some("3"));

        let r = classify("GET", "/Patient/p1/Observation", None).unwrap();
        assert_eq!(r.resource_type.as_deref(), Some("Observation"));
        assert_eq!(r.compartment, Some(("Patient".into(), "p1".into())));

        let r = classify("GET", "/Patient/p1/$everything", None).unwrap();
        assert_eq!(r.operation.as_deref(), Some("everything"));
        assert!(
            classify("PUT", "/Patient", Some("identifier=a|b"))
                .unwrap()
                .conditional
        );
    }

    #[test]
    fn malformed_paths_are_refused_with_a_reason() {
        assert_eq!(
            classify("GET", "/Patients/1", None),
            Err(RestError::UnknownResourceType("Patients".into()))
        );
        assert_eq!(
            classify("GET", "/Patient/1'--", None),
            Err(RestError::InvalidId("1'--".into()))
        );
        assert!(matches!(
            classify("PUT", "/Patient", None),
            Err(RestError::MethodNotAllowed { .. })
        ));
        assert!(matches!(
            classify("DELETE", "/metadata", None),
            Err(RestError::MethodNotAllowed { .. })
        ));
        assert_eq!(
            classify("GET", "/Patient/1/_history/2/x", None),
            Err(RestError::UnknownPath)
        );
        assert!(matches!(
            classify("POST", "/$ex'port", None),
            Err(RestError::InvalidOperation(_))
        ));
    }

    #[test]
    fn smart_letters_follow_the_scopes_specification() {
        use Interaction::*;
        assert_eq!(Read.smart_permission(), Some('r'));
        assert_eq!(HistoryInstance.smart_permission(), Some('r'));
        assert_eq!(HistoryType.smart_permission(), Some('s'));
        assert_eq!(SearchType.smart_permission(), Some('s'));
        assert_eq!(Create.smart_permission(), Some('c'));
        assert_eq!(Patch.smart_permission(), Some('u'));
        assert_eq!(Delete.smart_permission(), Some('d'));
        assert_eq!(Operation(OperationLevel::Instance).smart_permission(), None);
        assert!(SearchType.is_read_only());
        assert!(!Update.is_read_only());
    }
}
