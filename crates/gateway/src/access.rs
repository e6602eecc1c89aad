//! What a request asks of its department, as the authorize phase reads it: a FHIR
//! interaction, a DICOMweb transaction read as one on `ImagingStudy`, or a call to another API
//! of a plain upstream; its decoded search parameters; the entries of a batch or transaction;
//! and how a decision's patient filter and scope constraints are applied to what is forwarded.
//!
//! Pure functions over strings and bytes (they see the network: bounded, fuzzed).

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use wardgate_fhir::rest::{FhirRequest, Interaction, classify};

/// The most parameters read from a query or a form body; more is refused (a search of
/// thousands of parameters is not clinical traffic, and authorizing it costs).
pub const MAX_PARAMS: usize = 1_000;
/// The most entries read from a batch or transaction Bundle.
pub const MAX_BUNDLE_ENTRIES: usize = 10_000;

/// What a request asks of its department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// An interaction on the department's FHIR base (`/{department}/fhir/...`).
    Fhir(FhirRequest),
    /// A DICOMweb transaction (`/{department}/dicom-web/...`), read as the FHIR interaction on
    /// `ImagingStudy` it amounts to: QIDO-RS a search, WADO-RS a read, STOW-RS a create.
    Dicom(FhirRequest),
    /// Another path of the department: the own API of an existing system behind the gateway.
    /// SMART scopes do not describe it; segmentation (membership, role, zone) does.
    Other,
}

impl Asked {
    /// The FHIR request the authorization decides on. For [`Asked::Other`], the capability
    /// interaction: identity's checks of device, training and segmentation, and no scope.
    pub fn fhir(&self) -> Cow<'_, FhirRequest> {
        match self {
            Asked::Fhir(r) | Asked::Dicom(r) => Cow::Borrowed(r),
            Asked::Other => Cow::Owned(bare(Interaction::Capabilities, None)),
        }
    }

    /// Whether anyone may ask it without a token (the capability statement).
    pub fn is_public(&self) -> bool {
        matches!(self, Asked::Fhir(r) if r.interaction == Interaction::Capabilities)
    }
}

fn bare(interaction: Interaction, resource_type: Option<&str>) -> FhirRequest {
    FhirRequest {
        interaction,
        resource_type: resource_type.map(str::to_owned),
        id: None,
        version_id: None,
        operation: None,
        compartment: None,
        conditional: false,
    }
}

/// Read a request below its department (`relative` is `/fhir/Patient/1`, `/dicom-web/studies`,
/// `/api/results`). `Err` carries why a path under the FHIR or DICOMweb base is refused.
pub fn asked(method: &str, relative: &str, query: Option<&str>) -> Result<Asked, AskError> {
    if let Some(after) = below(relative, "/fhir") {
        return classify(method, after, query)
            .map(Asked::Fhir)
            .map_err(|e| AskError::Fhir(e.to_string()));
    }
    if let Some(after) = below(relative, "/dicom-web") {
        return dicom(method, after).map(Asked::Dicom);
    }
    Ok(Asked::Other)
}

/// Why a request cannot be authorized as what its path says it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// Under the FHIR base, but not a FHIR interaction.
    #[error("{0}")]
    Fhir(String),
    /// Under the DICOMweb base, but not a QIDO, WADO or STOW transaction.
    #[error("{0}")]
    Dicom(String),
}

/// The rest of `path` below `base` (`/fhir` -> `/Patient/1`), on a segment boundary.
fn below<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// DICOMweb (PS3.18) as FHIR interactions on `ImagingStudy`: the study UID is the id when it
/// fits the FHIR id grammar (a UID of digits and dots up to 64 characters does).
fn dicom(method: &str, after: &str) -> Result<FhirRequest, AskError> {
    let segments: Vec<&str> = after.split('/').filter(|s| !s.is_empty()).collect();
    let study = |uid: &str| {
        let mut request = bare(Interaction::Read, Some("ImagingStudy"));
        request.id = wardgate_fhir::is_valid_id(uid).then(|| uid.to_owned());
        request
    };
    let search = || bare(Interaction::SearchType, Some("ImagingStudy"));
    let method = if method.eq_ignore_ascii_case("HEAD") {
        "GET"
    } else {
        method
    };
    let refused = || {
        AskError::Dicom(format!(
            "{method} on this DICOMweb path is not a search (QIDO-RS), retrieve (WADO-RS) or store (STOW-RS)"
        ))
    };
    match (method, segments.as_slice()) {
        // QIDO-RS: /studies, /series, /instances, and those below a study or series.
        ("GET", ["studies" | "series" | "instances"])
        | ("GET", ["studies", _, "series" | "instances"])
        | ("GET", ["studies", _, "series", _, "instances"]) => Ok(search()),
        // WADO-RS: a study, series or instance, its metadata, rendered forms, frames, bulk data.
        ("GET", ["studies", uid, ..]) => Ok(study(uid)),
        // STOW-RS: store instances, optionally into a given study.
        ("POST", ["studies"] | ["studies", _]) => {
            Ok(bare(Interaction::Create, Some("ImagingStudy")))
        }
        _ => Err(refused()),
    }
}

/// The decoded `name=value` pairs of a query string or form body (`+` is a space), at most
/// [`MAX_PARAMS`]; `None` when there are more.
pub fn params(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        if out.len() == MAX_PARAMS {
            return None;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((form_decode(name), form_decode(value)));
    }
    Some(out)
}

fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Characters escaped in a query parameter the gateway adds (everything but unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// How a decision's patient filter and constraints confine the request: the parameters to add
/// to the forwarded query, or why the gateway cannot confine it (then it refuses).
pub fn confinement(
    patient: Option<&str>,
    constraints: &[(String, String)],
    asked: &Asked,
) -> Result<Option<String>, String> {
    if patient.is_none() && constraints.is_empty() {
        return Ok(None);
    }
    let Asked::Fhir(fhir) = asked else {
        return Err(
            "patient-scoped or constrained access to DICOMweb or another API cannot be confined by the gateway"
                .to_owned(),
        );
    };
    let ty = fhir.resource_type.as_deref();
    let searching = matches!(
        fhir.interaction,
        Interaction::SearchType | Interaction::SearchCompartment
    );
    let mut added: Vec<String> = Vec::new();
    if let Some(patient) = patient {
        let own_compartment = matches!(&fhir.compartment,
            Some((kind, id)) if kind == "Patient" && id == patient);
        let own_record = ty == Some("Patient") && fhir.id.as_deref() == Some(patient);
        match fhir.interaction {
            _ if own_compartment => {}
            Interaction::Capabilities => {}
            // Reads, history and operations on the patient's own Patient resource.
            Interaction::Read
            | Interaction::Vread
            | Interaction::HistoryInstance
            | Interaction::Operation(_)
                if own_record => {}
            Interaction::SearchType if ty == Some("Patient") => {
                added.push(format!("_id={}", encode(patient)));
            }
            Interaction::SearchType
                if ty
                    .is_some_and(|t| wardgate_fhir::search::param_type(t, "patient").is_some()) =>
            {
                added.push(format!("patient=Patient/{}", encode(patient)));
            }
            _ => {
                return Err(format!(
                    "{} on {} cannot be confined to the patient's compartment by the gateway",
                    fhir.interaction.name(),
                    ty.unwrap_or("*")
                ));
            }
        }
    }
    if !constraints.is_empty() {
        if !searching {
            return Err(format!(
                "the granted scope's constraints cannot be applied to {} by the gateway",
                fhir.interaction.name()
            ));
        }
        for (name, value) in constraints {
            added.push(format!("{}={}", encode(name), encode(value)));
        }
    }
    Ok((!added.is_empty()).then(|| added.join("&")))
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// One entry of a batch or transaction Bundle, as it would be sent alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleEntry {
    /// The entry's `request.method`.
    pub method: String,
    /// The entry's `request.url` path below the FHIR base (`/Patient/1`).
    pub path: String,
    /// Its query, if any.
    pub query: Option<String>,
}

/// A batch or transaction Bundle's entries, and whether it is a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRequests {
    /// All or nothing (`transaction`) or each entry on its own (`batch`).
    pub transaction: bool,
    /// The entries' requests.
    pub entries: Vec<BundleEntry>,
}

#[derive(serde::Deserialize)]
struct BundleDoc {
    #[serde(rename = "resourceType")]
    resource_type: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    entry: Vec<EntryDoc>,
}

#[derive(serde::Deserialize)]
struct EntryDoc {
    request: Option<RequestDoc>,
}

#[derive(serde::Deserialize)]
struct RequestDoc {
    method: String,
    url: String,
}

/// Read a batch or transaction Bundle (FHIR JSON) posted to `fhir_base` (the absolute path
/// of the department's base, `/emergency/fhir`). `Err` says why it cannot be read entry by entry.
pub fn bundle_requests(body: &[u8], fhir_base: &str) -> Result<BundleRequests, String> {
    // serde_json bounds nesting (128 levels); the route's body limit bounds the size.
    let doc: BundleDoc = serde_json::from_slice(body).map_err(|e| {
        // serde's message can quote the input; the position is enough.
        format!(
            "not a FHIR JSON Bundle (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    if doc.resource_type != "Bundle" {
        return Err(format!(
            "a {} posted to the FHIR base",
            bounded(&doc.resource_type)
        ));
    }
    let transaction = match doc.kind.as_deref() {
        Some("transaction") => true,
        Some("batch") => false,
        other => {
            return Err(format!(
                "a Bundle of type {} is not a batch or transaction",
                bounded(other.unwrap_or("(none)"))
            ));
        }
    };
    if doc.entry.len() > MAX_BUNDLE_ENTRIES {
        return Err(format!(
            "{} entries, more than the {MAX_BUNDLE_ENTRIES} accepted",
            doc.entry.len()
        ));
    }
    let mut entries = Vec::with_capacity(doc.entry.len());
    for (index, entry) in doc.entry.into_iter().enumerate() {
        let request = entry
            .request
            .ok_or_else(|| format!("entry {index} has no request"))?;
        let url = relative_url(&request.url, fhir_base)
            .ok_or_else(|| format!("entry {index}'s url is not below this FHIR base"))?;
        let (path, query) = match url.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (url, None),
        };
        entries.push(BundleEntry {
            method: request.method.to_ascii_uppercase(),
            path: format!("/{}", path.trim_start_matches('/')),
            query,
        });
    }
    Ok(BundleRequests {
        transaction,
        entries,
    })
}

/// An entry's url relative to the FHIR base: `Patient/1?x`, or an absolute URL whose path is
/// under `fhir_base` (a Bundle may name its own server in full).
fn relative_url<'u>(url: &'u str, fhir_base: &str) -> Option<&'u str> {
    if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    {
        let path = &rest[rest.find('/')?..];
        let below = path.strip_prefix(fhir_base)?;
        return (below.starts_with('/') && !below.contains("..")).then_some(below);
    }
    // A relative url names a type first; a path with `..` or a scheme is refused (its query
    // may hold anything: `code=http://loinc.org|718-7`).
    let path = url.split_once('?').map_or(url, |(path, _)| path);
    let plain =
        !path.is_empty() && !path.contains("..") && !path.contains(':') && !path.starts_with("//");
    plain.then_some(url)
}

fn bounded(text: &str) -> String {
    text.chars().take(64).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fhir(method: &str, relative: &str, query: Option<&str>) -> FhirRequest {
        match asked(method, relative, query) {
            Ok(Asked::Fhir(r) | Asked::Dicom(r)) => r,
            other => panic!("{relative}: {other:?}"),
        }
    }

    #[test]
    fn paths_are_read_as_fhir_dicomweb_or_another_api() {
        let read = fhir("GET", "/fhir/Patient/123", None);
        assert_eq!(read.interaction, Interaction::Read);
        assert!(asked("GET", "/fhir/metadata", None).unwrap().is_public());
        assert!(matches!(
            asked("GET", "/fhir/NotAType", None),
            Err(AskError::Fhir(_))
        ));
        assert_eq!(
            asked("GET", "/fhirish/Patient", None).unwrap(),
            Asked::Other
        );
        assert_eq!(asked("POST", "/api/results", None).unwrap(), Asked::Other);

        let qido = fhir("GET", "/dicom-web/studies", Some("PatientID=1"));
        assert_eq!(qido.interaction, Interaction::SearchType);
        assert_eq!(qido.resource_type.as_deref(), Some("ImagingStudy"));
        let wado = fhir("GET", "/dicom-web/studies/1.2.3/series/4.5/metadata", None);
        assert_eq!(wado.interaction, Interaction::Read);
        assert_eq!(wado.id.as_deref(), Some("1.2.3"));
        let stow = fhir("POST", "/dicom-web/studies", None);
        assert_eq!(stow.interaction, Interaction::Create);
        assert!(matches!(
            asked("DELETE", "/dicom-web/studies/1.2.3", None),
            Err(AskError::Dicom(_))
        ));
    }

    #[test]
    fn params_are_decoded_and_bounded() {
        assert_eq!(
            params("name=O%27Brien&given=Mary+Ann&flag").unwrap(),
            vec![
                ("name".to_owned(), "O'Brien".to_owned()),
                ("given".to_owned(), "Mary Ann".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
        assert!(params(&"a=1&".repeat(MAX_PARAMS + 1)).is_none());
    }

    #[test]
    fn a_patient_filter_is_added_to_searches_and_refused_where_it_cannot_apply() {
        let search = Asked::Fhir(fhir("GET", "/fhir/Observation", Some("code=x")));
        assert_eq!(
            confinement(Some("p 1"), &[], &search).unwrap().as_deref(),
            Some("patient=Patient/p%201")
        );
        let patients = Asked::Fhir(fhir("GET", "/fhir/Patient", None));
        assert_eq!(
            confinement(Some("p1"), &[], &patients).unwrap().as_deref(),
            Some("_id=p1")
        );
        let own = Asked::Fhir(fhir("GET", "/fhir/Patient/p1", None));
        assert_eq!(confinement(Some("p1"), &[], &own).unwrap(), None);
        let other_read = Asked::Fhir(fhir("GET", "/fhir/Observation/o1", None));
        assert!(confinement(Some("p1"), &[], &other_read).is_err());
        let practitioners = Asked::Fhir(fhir("GET", "/fhir/Practitioner", None));
        assert!(confinement(Some("p1"), &[], &practitioners).is_err());
        let constraint = [("category".to_owned(), "laboratory".to_owned())];
        assert_eq!(
            confinement(None, &constraint, &search).unwrap().as_deref(),
            Some("category=laboratory")
        );
        let create = Asked::Fhir(fhir("POST", "/fhir/Observation", None));
        assert!(confinement(None, &constraint, &create).is_err());
        assert_eq!(confinement(None, &[], &create).unwrap(), None);
    }

    #[test]
    fn bundles_are_read_entry_by_entry() {
        let body = br#"{"resourceType":"Bundle","type":"transaction","entry":[
            {"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
            {"request":{"method":"get","url":"Observation?patient=1&code=http://loinc.org|718-7"}},
            {"request":{"method":"DELETE","url":"https://gw/emergency/fhir/Patient/9"}}]}"#;
        let read = bundle_requests(body, "/emergency/fhir").unwrap();
        assert!(read.transaction);
        assert_eq!(read.entries.len(), 3);
        assert_eq!(read.entries[1].method, "GET");
        assert_eq!(read.entries[1].path, "/Observation");
        assert_eq!(
            read.entries[1].query.as_deref(),
            Some("patient=1&code=http://loinc.org|718-7")
        );
        assert_eq!(read.entries[2].path, "/Patient/9");
        let elsewhere = br#"{"resourceType":"Bundle","type":"batch","entry":[
            {"request":{"method":"GET","url":"https://gw/radiology/fhir/ImagingStudy"}}]}"#;
        assert!(bundle_requests(elsewhere, "/emergency/fhir").is_err());
        let scheme = br#"{"resourceType":"Bundle","type":"batch","entry":[
            {"request":{"method":"GET","url":"javascript:alert(1)"}}]}"#;
        assert!(bundle_requests(scheme, "/emergency/fhir").is_err());
        let document = br#"{"resourceType":"Bundle","type":"document"}"#;
        assert!(bundle_requests(document, "/emergency/fhir").is_err());
        assert!(bundle_requests(b"{", "/emergency/fhir").is_err());
    }
}
