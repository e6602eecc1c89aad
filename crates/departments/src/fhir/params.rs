//! Which search parameters a department supports, where each finds its values in a resource,
//! and how a value is read as a term of its parameter's type.

use serde_json::Value;
use wardgate_fhir::search::SearchParamType;

/// Where a supported parameter takes its values (dotted paths; `x[x]` is a choice element).
pub fn paths(rtype: &str, name: &str) -> Option<&'static [&'static str]> {
    let common: Option<&'static [&'static str]> = match name {
        "_id" => Some(&["id"]),
        "_lastUpdated" => Some(&["meta.lastUpdated"]),
        "_tag" => Some(&["meta.tag"]),
        "_profile" => Some(&["meta.profile"]),
        "_security" => Some(&["meta.security"]),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    let p: &'static [&'static str] = match (rtype, name) {
        (_, "identifier") => &["identifier"],
        ("Patient" | "Practitioner" | "RelatedPerson" | "Person", "name") => &["name"],
        ("Organization" | "Location" | "Medication" | "HealthcareService", "name") => &["name"],
        ("Patient" | "Practitioner" | "RelatedPerson" | "Person", "family") => &["name.family"],
        ("Patient" | "Practitioner" | "RelatedPerson" | "Person", "given") => &["name.given"],
        ("Patient" | "Practitioner" | "RelatedPerson" | "Person", "gender") => &["gender"],
        ("Patient" | "RelatedPerson" | "Person", "birthdate") => &["birthDate"],
        ("Patient" | "Practitioner" | "Organization", "address") => &["address"],
        ("Patient" | "Practitioner" | "Organization", "address-city") => &["address.city"],
        ("Patient" | "Practitioner", "telecom") => &["telecom"],
        ("Patient" | "Practitioner" | "Organization", "active") => &["active"],
        ("Patient", "general-practitioner") => &["generalPractitioner"],
        ("Patient", "organization") => &["managingOrganization"],
        ("Patient", "death-date") => &["deceased[x]"],
        ("AllergyIntolerance" | "Consent" | "Immunization", "patient") => &["patient"],
        ("AllergyIntolerance", "clinical-status") => &["clinicalStatus"],
        ("AllergyIntolerance", "verification-status") => &["verificationStatus"],
        ("AllergyIntolerance", "criticality") => &["criticality"],
        ("AllergyIntolerance", "type") => &["type"],
        ("AllergyIntolerance", "category") => &["category"],
        ("AllergyIntolerance", "date") => &["recordedDate"],
        ("AllergyIntolerance", "onset") => &["onset[x]"],
        (_, "patient") | (_, "subject") => &["subject"],
        ("Condition", "clinical-status") => &["clinicalStatus"],
        ("Condition", "verification-status") => &["verificationStatus"],
        ("Condition", "onset-date") => &["onset[x]"],
        ("Condition", "recorded-date") => &["recordedDate"],
        ("Observation" | "DiagnosticReport" | "Condition" | "ServiceRequest", "category") => {
            &["category"]
        }
        ("Observation" | "DiagnosticReport", "date") => &["effective[x]"],
        ("Observation", "value-concept") => &["value[x]"],
        ("Observation" | "DiagnosticReport" | "ServiceRequest", "based-on") => &["basedOn"],
        ("Observation" | "DiagnosticReport", "performer") => &["performer"],
        ("DiagnosticReport", "result") => &["result"],
        ("DiagnosticReport", "issued") => &["issued"],
        ("Encounter", "date") => &["period"],
        ("Encounter", "class") => &["class"],
        ("Encounter", "type") => &["type"],
        ("Encounter", "reason-code") => &["reasonCode"],
        ("Encounter", "participant") => &["participant.individual"],
        ("Procedure", "date") => &["performed[x]"],
        ("ImagingStudy", "started") => &["started"],
        ("ImagingStudy", "modality") => &["series.modality"],
        ("ImagingStudy", "series") => &["series.uid"],
        ("ImagingStudy", "basedon") => &["basedOn"],
        ("ServiceRequest", "authored") => &["authoredOn"],
        ("ServiceRequest" | "MedicationRequest", "intent") => &["intent"],
        ("ServiceRequest" | "MedicationRequest", "requester") => &["requester"],
        ("Specimen", "type") => &["type"],
        ("Specimen", "collected") => &["collection.collected[x]"],
        ("Specimen", "accession") => &["accessionIdentifier"],
        ("Medication", "form") => &["form"],
        ("MedicationRequest", "authoredon") => &["authoredOn"],
        ("MedicationRequest" | "MedicationDispense", "medication") => &["medicationReference"],
        ("MedicationDispense", "prescription") => &["authorizingPrescription"],
        ("MedicationDispense", "whenhandedover") => &["whenHandedOver"],
        ("MedicationDispense", "whenprepared") => &["whenPrepared"],
        ("MedicationRequest" | "MedicationDispense", "code") => &["medicationCodeableConcept"],
        ("DocumentReference", "type") => &["type"],
        ("DocumentReference", "category") => &["category"],
        ("DocumentReference", "date") => &["date"],
        ("DocumentReference", "author") => &["author"],
        ("DocumentReference", "period") => &["context.period"],
        ("Consent", "category") => &["category"],
        ("Consent", "date") => &["dateTime"],
        ("Consent", "scope") => &["scope"],
        (_, "code") => &["code"],
        (_, "status") => &["status"],
        (_, "encounter") => &["encounter"],
        _ => return None,
    };
    Some(p)
}

/// The type of a supported parameter, or `None` when this department cannot search it
/// (unknown here, or a number or quantity search, which blind indexes do not serve).
pub fn supported_type(rtype: &str, name: &str) -> Option<SearchParamType> {
    let paths = paths(rtype, name)?;
    let ptype = match name {
        "_profile" => SearchParamType::Uri,
        _ => wardgate_fhir::search::param_type(rtype, name)?,
    };
    // A few parameters the fhir table types by their R4 definition but whose elements here
    // hold a different shape are still served through the same term readers.
    let _ = paths;
    match ptype {
        SearchParamType::Token
        | SearchParamType::String
        | SearchParamType::Reference
        | SearchParamType::Date
        | SearchParamType::Uri => Some(ptype),
        _ => None,
    }
}

/// The names of the supported parameters of `rtype` (for the CapabilityStatement).
pub fn supported_names(rtype: &str) -> Vec<(&'static str, SearchParamType)> {
    const CANDIDATES: &[&str] = &[
        "_id",
        "_lastUpdated",
        "_tag",
        "_profile",
        "_security",
        "identifier",
        "name",
        "family",
        "given",
        "gender",
        "birthdate",
        "address",
        "address-city",
        "telecom",
        "active",
        "general-practitioner",
        "organization",
        "death-date",
        "patient",
        "subject",
        "clinical-status",
        "verification-status",
        "criticality",
        "type",
        "category",
        "date",
        "onset",
        "onset-date",
        "recorded-date",
        "value-concept",
        "based-on",
        "performer",
        "result",
        "issued",
        "class",
        "reason-code",
        "participant",
        "started",
        "modality",
        "series",
        "basedon",
        "authored",
        "intent",
        "requester",
        "collected",
        "accession",
        "form",
        "authoredon",
        "medication",
        "prescription",
        "whenhandedover",
        "whenprepared",
        "code",
        "author",
        "period",
        "scope",
        "status",
        "encounter",
    ];
    CANDIDATES
        .iter()
        .filter_map(|n| supported_type(rtype, n).map(|t| (*n, t)))
        .collect()
}

/// Collect the JSON values at a dotted path (arrays are walked through).
pub fn values_at<'a>(resource: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![resource];
    for segment in path.split('.') {
        let mut next = Vec::new();
        for value in current {
            let Value::Object(map) = value else { continue };
            if let Some(prefix) = segment.strip_suffix("[x]") {
                for (key, v) in map {
                    let is_choice = key
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()));
                    if is_choice {
                        push_flat(&mut next, v);
                    }
                }
            } else if let Some(v) = map.get(segment) {
                push_flat(&mut next, v);
            }
        }
        current = next;
    }
    current
}

fn push_flat<'a>(out: &mut Vec<&'a Value>, value: &'a Value) {
    match value {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    }
}

/// A token term: `(system, code)`.
pub type TokenTerm = (Option<String>, String);

/// The token terms of a value (code, Coding, CodeableConcept, Identifier, ContactPoint, uri,
/// boolean).
pub fn token_terms(value: &Value, out: &mut Vec<TokenTerm>) {
    match value {
        Value::String(s) => out.push((None, s.clone())),
        Value::Bool(b) => out.push((None, b.to_string())),
        Value::Object(map) => {
            if let Some(Value::Array(codings)) = map.get("coding") {
                for coding in codings {
                    token_terms(coding, out);
                }
                return;
            }
            let system = map.get("system").and_then(Value::as_str).map(str::to_owned);
            if let Some(code) = map.get("code").and_then(Value::as_str) {
                out.push((system, code.to_owned()));
            } else if let Some(value) = map.get("value").and_then(Value::as_str) {
                out.push((system, value.to_owned()));
            }
        }
        _ => {}
    }
}

/// The string terms of a value (string, HumanName, Address), not yet normalised.
pub fn string_terms(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Object(map) => {
            for key in [
                "family",
                "given",
                "prefix",
                "suffix",
                "text",
                "line",
                "city",
                "district",
                "state",
                "postalCode",
                "country",
            ] {
                match map.get(key) {
                    Some(Value::String(s)) => out.push(s.clone()),
                    Some(Value::Array(items)) => {
                        out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// The reference term of a value: `Type/id` for a literal reference (a base URL and a
/// version are dropped), the URL itself for a canonical.
pub fn reference_term(value: &Value) -> Option<String> {
    let reference = match value {
        Value::Object(map) => map.get("reference")?.as_str()?,
        Value::String(s) => s.as_str(),
        _ => return None,
    };
    Some(normalise_reference(reference))
}

/// `http://x/fhir/Patient/1/_history/2` -> `Patient/1`; other forms unchanged.
pub fn normalise_reference(reference: &str) -> String {
    let without_version = match reference.find("/_history/") {
        Some(i) => &reference[..i],
        None => reference,
    };
    let parts: Vec<&str> = without_version.rsplitn(3, '/').collect();
    if let [id, rtype, ..] = parts.as_slice()
        && wardgate_fhir::is_resource_type(rtype)
        && wardgate_fhir::is_valid_id(id)
    {
        return format!("{rtype}/{id}");
    }
    reference.to_owned()
}

/// The date interval of a value (date, dateTime, instant, Period).
pub fn date_term(value: &Value) -> Option<(i64, i64)> {
    match value {
        Value::String(s) => super::dates::parse_range(s),
        Value::Object(map) => {
            let start = map.get("start").and_then(Value::as_str);
            let end = map.get("end").and_then(Value::as_str);
            if start.is_none() && end.is_none() {
                return None;
            }
            let lo = start
                .and_then(super::dates::parse_range)
                .map_or(super::dates::MIN, |r| r.0);
            let hi = end
                .and_then(super::dates::parse_range)
                .map_or(super::dates::MAX, |r| r.1);
            Some((lo, hi))
        }
        _ => None,
    }
}

/// Normalise text for string search: lower case, common Latin accents folded, punctuation
/// other than spaces dropped, runs of spaces collapsed (`Ó Súilleabháin` -> `o suilleabhain`,
/// `O'Brien` -> `obrien`).
pub fn normalise_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = fold_accent(c);
        if c.is_alphanumeric() {
            out.push(c);
            space = false;
        } else if (c.is_whitespace() || c == '-' || c == '^' || c == ',') && !space {
            out.push(' ');
            space = true;
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'ế' | 'ề' | 'ễ' | 'ệ' => {
            'e'
        }
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => 'i',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | 'ơ' | 'ố' | 'ồ' | 'ộ' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ư' => 'u',
        'ý' | 'ÿ' => 'y',
        'ś' | 'š' | 'ş' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        'ł' => 'l',
        'ř' => 'r',
        'ť' => 't',
        'ğ' => 'g',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_found_through_arrays_and_choices() {
        let obs = json!({"effectiveDateTime": "2024-01-01", "code": {"coding": [
            {"system": "http://loinc.org", "code": "718-7"}]}, "subject": {"reference": "Patient/p1"}});
        assert_eq!(values_at(&obs, "effective[x]").len(), 1);
        let mut tokens = Vec::new();
        for v in values_at(&obs, "code") {
            token_terms(v, &mut tokens);
        }
        assert_eq!(
            tokens,
            vec![(Some("http://loinc.org".into()), "718-7".into())]
        );
        assert_eq!(
            reference_term(values_at(&obs, "subject")[0]).as_deref(),
            Some("Patient/p1")
        );
    }

    #[test]
    fn text_is_normalised_for_search() {
        assert_eq!(normalise_text("Ó Súilleabháin"), "o suilleabhain");
        assert_eq!(normalise_text("O'Brien"), "obrien");
        assert_eq!(normalise_text("Müller-Lüdenscheidt"), "muller ludenscheidt");
        assert_eq!(normalise_text("Nguyễn"), "nguyen");
        assert_eq!(
            normalise_reference("https://h/fhir/Patient/1/_history/3"),
            "Patient/1"
        );
    }
}
