//! Which search parameters each resource type has, and their types (FHIR R4 4.0.1).
//!
//! The parameters every resource has, and the type-specific parameters of the resource types
//! hospitals' department APIs serve. A parameter not listed here is unknown: the firewall
//! inspects its value as text and a department may refuse it.

use super::SearchParamType::{self, *};

/// The type of parameter `name` on `resource_type` (`Resource` for the common parameters only).
pub fn param_type(resource_type: &str, name: &str) -> Option<SearchParamType> {
    // Every common parameter starts with `_` (tested): other names are not searched there.
    let common = if name.starts_with('_') {
        lookup(COMMON, name)
    } else {
        None
    };
    common.or_else(|| lookup(type_params(resource_type), name))
}

fn lookup(table: &[(&str, SearchParamType)], name: &str) -> Option<SearchParamType> {
    table
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| table[i].1)
}

/// Parameters every resource has (sorted by name).
const COMMON: &[(&str, SearchParamType)] = &[
    ("_content", String),
    ("_filter", Special),
    ("_has", Special),
    ("_id", Token),
    ("_lastUpdated", Date),
    ("_list", Token),
    ("_profile", Uri),
    ("_query", Token),
    ("_security", Token),
    ("_source", Uri),
    ("_tag", Token),
    ("_text", String),
];

fn type_params(resource_type: &str) -> &'static [(&'static str, SearchParamType)] {
    match resource_type {
        "AllergyIntolerance" => ALLERGYINTOLERANCE,
        "Appointment" => APPOINTMENT,
        "AuditEvent" => AUDITEVENT,
        "Binary" => BINARY,
        "Bundle" => BUNDLE,
        "CarePlan" => CAREPLAN,
        "CareTeam" => CARETEAM,
        "Claim" => CLAIM,
        "Communication" => COMMUNICATION,
        "Composition" => COMPOSITION,
        "Condition" => CONDITION,
        "Consent" => CONSENT,
        "Coverage" => COVERAGE,
        "Device" => DEVICE,
        "DiagnosticReport" => DIAGNOSTICREPORT,
        "DocumentReference" => DOCUMENTREFERENCE,
        "Encounter" => ENCOUNTER,
        "Endpoint" => ENDPOINT,
        "EpisodeOfCare" => EPISODEOFCARE,
        "ExplanationOfBenefit" => EXPLANATIONOFBENEFIT,
        "FamilyMemberHistory" => FAMILYMEMBERHISTORY,
        "Flag" => FLAG,
        "Goal" => GOAL,
        "Group" => GROUP,
        "HealthcareService" => HEALTHCARESERVICE,
        "ImagingStudy" => IMAGINGSTUDY,
        "Immunization" => IMMUNIZATION,
        "List" => LIST,
        "Location" => LOCATION,
        "Media" => MEDIA,
        "Medication" => MEDICATION,
        "MedicationAdministration" => MEDICATIONADMINISTRATION,
        "MedicationDispense" => MEDICATIONDISPENSE,
        "MedicationRequest" => MEDICATIONREQUEST,
        "MedicationStatement" => MEDICATIONSTATEMENT,
        "MolecularSequence" => MOLECULARSEQUENCE,
        "NutritionOrder" => NUTRITIONORDER,
        "Observation" => OBSERVATION,
        "Organization" => ORGANIZATION,
        "Patient" => PATIENT,
        "Person" => PERSON,
        "Practitioner" => PRACTITIONER,
        "PractitionerRole" => PRACTITIONERROLE,
        "Procedure" => PROCEDURE,
        "Provenance" => PROVENANCE,
        "Questionnaire" => QUESTIONNAIRE,
        "QuestionnaireResponse" => QUESTIONNAIRERESPONSE,
        "RelatedPerson" => RELATEDPERSON,
        "RiskAssessment" => RISKASSESSMENT,
        "Schedule" => SCHEDULE,
        "ServiceRequest" => SERVICEREQUEST,
        "Slot" => SLOT,
        "Specimen" => SPECIMEN,
        "Task" => TASK,
        _ => &[],
    }
}

const ALLERGYINTOLERANCE: &[(&str, SearchParamType)] = &[
    ("asserter", Reference),
    ("category", Token),
    ("clinical-status", Token),
    ("code", Token),
    ("criticality", Token),
    ("date", Date),
    ("identifier", Token),
    ("last-date", Date),
    ("manifestation", Token),
    ("onset", Date),
    ("patient", Reference),
    ("recorder", Reference),
    ("route", Token),
    ("severity", Token),
    ("type", Token),
    ("verification-status", Token),
];

const APPOINTMENT: &[(&str, SearchParamType)] = &[
    ("actor", Reference),
    ("appointment-type", Token),
    ("based-on", Reference),
    ("date", Date),
    ("identifier", Token),
    ("location", Reference),
    ("part-status", Token),
    ("patient", Reference),
    ("practitioner", Reference),
    ("reason-code", Token),
    ("reason-reference", Reference),
    ("service-category", Token),
    ("service-type", Token),
    ("slot", Reference),
    ("specialty", Token),
    ("status", Token),
    ("supporting-info", Reference),
];

const AUDITEVENT: &[(&str, SearchParamType)] = &[
    ("action", Token),
    ("address", String),
    ("agent", Reference),
    ("agent-name", String),
    ("agent-role", Token),
    ("altid", Token),
    ("date", Date),
    ("entity", Reference),
    ("entity-name", String),
    ("entity-role", Token),
    ("entity-type", Token),
    ("outcome", Token),
    ("patient", Reference),
    ("policy", Uri),
    ("site", Token),
    ("source", Reference),
    ("subtype", Token),
    ("type", Token),
];

const BINARY: &[(&str, SearchParamType)] = &[];

const BUNDLE: &[(&str, SearchParamType)] = &[
    ("composition", Reference),
    ("identifier", Token),
    ("message", Reference),
    ("timestamp", Date),
    ("type", Token),
];

const CAREPLAN: &[(&str, SearchParamType)] = &[
    ("activity-code", Token),
    ("activity-date", Date),
    ("activity-reference", Reference),
    ("based-on", Reference),
    ("care-team", Reference),
    ("category", Token),
    ("condition", Reference),
    ("date", Date),
    ("encounter", Reference),
    ("goal", Reference),
    ("identifier", Token),
    ("instantiates-canonical", Reference),
    ("instantiates-uri", Uri),
    ("intent", Token),
    ("part-of", Reference),
    ("patient", Reference),
    ("performer", Reference),
    ("replaces", Reference),
    ("status", Token),
    ("subject", Reference),
];

const CARETEAM: &[(&str, SearchParamType)] = &[
    ("category", Token),
    ("date", Date),
    ("encounter", Reference),
    ("identifier", Token),
    ("participant", Reference),
    ("patient", Reference),
    ("status", Token),
    ("subject", Reference),
];

const CLAIM: &[(&str, SearchParamType)] = &[
    ("care-team", Reference),
    ("created", Date),
    ("detail-udi", Reference),
    ("encounter", Reference),
    ("enterer", Reference),
    ("facility", Reference),
    ("identifier", Token),
    ("insurer", Reference),
    ("item-udi", Reference),
    ("patient", Reference),
    ("payee", Reference),
    ("priority", Token),
    ("procedure-udi", Reference),
    ("provider", Reference),
    ("status", Token),
    ("subdetail-udi", Reference),
    ("use", Token),
];

const COMMUNICATION: &[(&str, SearchParamType)] = &[
    ("based-on", Reference),
    ("category", Token),
    ("encounter", Reference),
    ("identifier", Token),
    ("medium", Token),
    ("part-of", Reference),
    ("patient", Reference),
    ("received", Date),
    ("recipient", Reference),
    ("sender", Reference),
    ("sent", Date),
    ("status", Token),
    ("subject", Reference),
];

const COMPOSITION: &[(&str, SearchParamType)] = &[
    ("attester", Reference),
    ("author", Reference),
    ("category", Token),
    ("confidentiality", Token),
    ("context", Token),
    ("date", Date),
    ("encounter", Reference),
    ("entry", Reference),
    ("identifier", Token),
    ("patient", Reference),
    ("period", Date),
    ("related-id", Token),
    ("related-ref", Reference),
    ("section", Token),
    ("status", Token),
    ("subject", Reference),
    ("title", String),
    ("type", Token),
];

const CONDITION: &[(&str, SearchParamType)] = &[
    ("abatement-age", Quantity),
    ("abatement-date", Date),
    ("abatement-string", String),
    ("asserter", Reference),
    ("body-site", Token),
    ("category", Token),
    ("clinical-status", Token),
    ("code", Token),
    ("encounter", Reference),
    ("evidence", Token),
    ("evidence-detail", Reference),
    ("identifier", Token),
    ("onset-age", Quantity),
    ("onset-date", Date),
    ("onset-info", String),
    ("patient", Reference),
    ("recorded-date", Date),
    ("severity", Token),
    ("stage", Token),
    ("subject", Reference),
    ("verification-status", Token),
];

const CONSENT: &[(&str, SearchParamType)] = &[
    ("action", Token),
    ("actor", Reference),
    ("category", Token),
    ("consentor", Reference),
    ("data", Reference),
    ("date", Date),
    ("identifier", Token),
    ("organization", Reference),
    ("patient", Reference),
    ("period", Date),
    ("purpose", Token),
    ("scope", Token),
    ("security-label", Token),
    ("source-reference", Reference),
    ("status", Token),
];

const COVERAGE: &[(&str, SearchParamType)] = &[
    ("beneficiary", Reference),
    ("class-type", Token),
    ("class-value", String),
    ("dependent", String),
    ("identifier", Token),
    ("patient", Reference),
    ("payor", Reference),
    ("policy-holder", Reference),
    ("status", Token),
    ("subscriber", Reference),
    ("type", Token),
];

const DEVICE: &[(&str, SearchParamType)] = &[
    ("device-name", String),
    ("identifier", Token),
    ("location", Reference),
    ("manufacturer", String),
    ("model", String),
    ("organization", Reference),
    ("patient", Reference),
    ("status", Token),
    ("type", Token),
    ("udi-carrier", String),
    ("udi-di", String),
    ("url", Uri),
];

const DIAGNOSTICREPORT: &[(&str, SearchParamType)] = &[
    ("based-on", Reference),
    ("category", Token),
    ("code", Token),
    ("conclusion", Token),
    ("date", Date),
    ("encounter", Reference),
    ("identifier", Token),
    ("issued", Date),
    ("media", Reference),
    ("patient", Reference),
    ("performer", Reference),
    ("result", Reference),
    ("results-interpreter", Reference),
    ("specimen", Reference),
    ("status", Token),
    ("subject", Reference),
];

const DOCUMENTREFERENCE: &[(&str, SearchParamType)] = &[
    ("authenticator", Reference),
    ("author", Reference),
    ("category", Token),
    ("contenttype", Token),
    ("custodian", Reference),
    ("date", Date),
    ("description", String),
    ("event", Token),
    ("facility", Token),
    ("format", Token),
    ("identifier", Token),
    ("language", Token),
    ("location", Uri),
    ("patient", Reference),
    ("period", Date),
    ("related", Reference),
    ("relatesto", Reference),
    ("relation", Token),
    ("relationship", Composite),
    ("security-label", Token),
    ("setting", Token),
    ("status", Token),
    ("subject", Reference),
    ("type", Token),
];

const ENCOUNTER: &[(&str, SearchParamType)] = &[
    ("account", Reference),
    ("appointment", Reference),
    ("based-on", Reference),
    ("class", Token),
    ("date", Date),
    ("diagnosis", Reference),
    ("episode-of-care", Reference),
    ("identifier", Token),
    ("length", Quantity),
    ("location", Reference),
    ("location-period", Date),
    ("part-of", Reference),
    ("participant", Reference),
    ("participant-type", Token),
    ("patient", Reference),
    ("practitioner", Reference),
    ("reason-code", Token),
    ("reason-reference", Reference),
    ("service-provider", Reference),
    ("special-arrangement", Token),
    ("status", Token),
    ("subject", Reference),
    ("type", Token),
];

const ENDPOINT: &[(&str, SearchParamType)] = &[
    ("connection-type", Token),
    ("identifier", Token),
    ("name", String),
    ("organization", Reference),
    ("payload-type", Token),
    ("status", Token),
];

const EPISODEOFCARE: &[(&str, SearchParamType)] = &[
    ("care-manager", Reference),
    ("condition", Reference),
    ("date", Date),
    ("identifier", Token),
    ("incoming-referral", Reference),
    ("organization", Reference),
    ("patient", Reference),
    ("status", Token),
    ("type", Token),
];

const EXPLANATIONOFBENEFIT: &[(&str, SearchParamType)] = &[
    ("care-team", Reference),
    ("claim", Reference),
    ("coverage", Reference),
    ("created", Date),
    ("detail-udi", Reference),
    ("disposition", String),
    ("encounter", Reference),
    ("enterer", Reference),
    ("facility", Reference),
    ("identifier", Token),
    ("item-udi", Reference),
    ("patient", Reference),
    ("payee", Reference),
    ("procedure-udi", Reference),
    ("provider", Reference),
    ("status", Token),
    ("subdetail-udi", Reference),
];

const FAMILYMEMBERHISTORY: &[(&str, SearchParamType)] = &[
    ("code", Token),
    ("date", Date),
    ("identifier", Token),
    ("patient", Reference),
    ("relationship", Token),
    ("sex", Token),
    ("status", Token),
];

const FLAG: &[(&str, SearchParamType)] = &[
    ("author", Reference),
    ("date", Date),
    ("encounter", Reference),
    ("identifier", Token),
    ("patient", Reference),
    ("subject", Reference),
];

const GOAL: &[(&str, SearchParamType)] = &[
    ("achievement-status", Token),
    ("category", Token),
    ("identifier", Token),
    ("lifecycle-status", Token),
    ("patient", Reference),
    ("start-date", Date),
    ("subject", Reference),
    ("target-date", Date),
];

const GROUP: &[(&str, SearchParamType)] = &[
    ("actual", Token),
    ("characteristic", Token),
    ("characteristic-value", Composite),
    ("code", Token),
    ("exclude", Token),
    ("identifier", Token),
    ("managing-entity", Reference),
    ("member", Reference),
    ("type", Token),
    ("value", Token),
];

const HEALTHCARESERVICE: &[(&str, SearchParamType)] = &[
    ("active", Token),
    ("characteristic", Token),
    ("coverage-area", Reference),
    ("endpoint", Reference),
    ("identifier", Token),
    ("location", Reference),
    ("name", String),
    ("organization", Reference),
    ("program", Token),
    ("service-category", Token),
    ("service-type", Token),
    ("specialty", Token),
];

const IMAGINGSTUDY: &[(&str, SearchParamType)] = &[
    ("basedon", Reference),
    ("bodysite", Token),
    ("dicom-class", Token),
    ("encounter", Reference),
    ("endpoint", Reference),
    ("identifier", Token),
    ("instance", Token),
    ("interpreter", Reference),
    ("modality", Token),
    ("patient", Reference),
    ("performer", Reference),
    ("reason", Token),
    ("referrer", Reference),
    ("series", Token),
    ("started", Date),
    ("status", Token),
    ("subject", Reference),
];

const IMMUNIZATION: &[(&str, SearchParamType)] = &[
    ("date", Date),
    ("identifier", Token),
    ("location", Reference),
    ("lot-number", String),
    ("manufacturer", Reference),
    ("patient", Reference),
    ("performer", Reference),
    ("reaction", Reference),
    ("reaction-date", Date),
    ("reason-code", Token),
    ("reason-reference", Reference),
    ("series", String),
    ("status", Token),
    ("status-reason", Token),
    ("target-disease", Token),
    ("vaccine-code", Token),
];

const LIST: &[(&str, SearchParamType)] = &[
    ("code", Token),
    ("date", Date),
    ("empty-reason", Token),
    ("encounter", Reference),
    ("identifier", Token),
    ("item", Reference),
    ("notes", String),
    ("patient", Reference),
    ("source", Reference),
    ("status", Token),
    ("subject", Reference),
    ("title", String),
];

const LOCATION: &[(&str, SearchParamType)] = &[
    ("address", String),
    ("address-city", String),
    ("address-country", String),
    ("address-postalcode", String),
    ("address-state", String),
    ("address-use", Token),
    ("endpoint", Reference),
    ("identifier", Token),
    ("name", String),
    ("near", Special),
    ("operational-status", Token),
    ("organization", Reference),
    ("partof", Reference),
    ("status", Token),
    ("type", Token),
];

const MEDIA: &[(&str, SearchParamType)] = &[
    ("based-on", Reference),
    ("created", Date),
    ("device", Reference),
    ("encounter", Reference),
    ("identifier", Token),
    ("modality", Token),
    ("operator", Reference),
    ("patient", Reference),
    ("site", Token),
    ("status", Token),
    ("subject", Reference),
    ("type", Token),
    ("view", Token),
];

const MEDICATION: &[(&str, SearchParamType)] = &[
    ("code", Token),
    ("expiration-date", Date),
    ("form", Token),
    ("identifier", Token),
    ("ingredient", Reference),
    ("ingredient-code", Token),
    ("lot-number", Token),
    ("manufacturer", Reference),
    ("status", Token),
];

const MEDICATIONADMINISTRATION: &[(&str, SearchParamType)] = &[
    ("code", Token),
    ("context", Reference),
    ("device", Reference),
    ("effective-time", Date),
    ("identifier", Token),
    ("medication", Reference),
    ("patient", Reference),
    ("performer", Reference),
    ("reason-given", Token),
    ("reason-not-given", Token),
    ("request", Reference),
    ("status", Token),
    ("subject", Reference),
];

const MEDICATIONDISPENSE: &[(&str, SearchParamType)] = &[
    ("code", Token),
    ("context", Reference),
    ("destination", Reference),
    ("identifier", Token),
    ("medication", Reference),
    ("patient", Reference),
    ("performer", Reference),
    ("prescription", Reference),
    ("receiver", Reference),
    ("responsibleparty", Reference),
    ("status", Token),
    ("subject", Reference),
    ("type", Token),
    ("whenhandedover", Date),
    ("whenprepared", Date),
];

const MEDICATIONREQUEST: &[(&str, SearchParamType)] = &[
    ("authoredon", Date),
    ("category", Token),
    ("code", Token),
    ("date", Date),
    ("encounter", Reference),
    ("identifier", Token),
    ("intended-dispenser", Reference),
    ("intended-performer", Reference),
    ("intended-performertype", Token),
    ("intent", Token),
    ("medication", Reference),
    ("patient", Reference),
    ("priority", Token),
    ("requester", Reference),
    ("status", Token),
    ("subject", Reference),
];

const MEDICATIONSTATEMENT: &[(&str, SearchParamType)] = &[
    ("category", Token),
    ("code", Token),
    ("context", Reference),
    ("effective", Date),
    ("identifier", Token),
    ("medication", Reference),
    ("part-of", Reference),
    ("patient", Reference),
    ("source", Reference),
    ("status", Token),
    ("subject", Reference),
];

const MOLECULARSEQUENCE: &[(&str, SearchParamType)] = &[
    ("chromosome", Token),
    ("identifier", Token),
    ("patient", Reference),
    ("referenceseqid", Token),
    ("type", Token),
    ("variant-end", Number),
    ("variant-start", Number),
    ("window-end", Number),
    ("window-start", Number),
];

const NUTRITIONORDER: &[(&str, SearchParamType)] = &[
    ("additive", Token),
    ("datetime", Date),
    ("encounter", Reference),
    ("formula", Token),
    ("identifier", Token),
    ("instantiates-canonical", Reference),
    ("instantiates-uri", Uri),
    ("oraldiet", Token),
    ("patient", Reference),
    ("provider", Reference),
    ("status", Token),
    ("supplement", Token),
];

const OBSERVATION: &[(&str, SearchParamType)] = &[
    ("based-on", Reference),
    ("category", Token),
    ("code", Token),
    ("code-value-concept", Composite),
    ("code-value-date", Composite),
    ("code-value-quantity", Composite),
    ("code-value-string", Composite),
    ("combo-code", Token),
    ("combo-code-value-concept", Composite),
    ("combo-code-value-quantity", Composite),
    ("combo-data-absent-reason", Token),
    ("combo-value-concept", Token),
    ("combo-value-quantity", Quantity),
    ("component-code", Token),
    ("component-code-value-concept", Composite),
    ("component-code-value-quantity", Composite),
    ("component-data-absent-reason", Token),
    ("component-value-concept", Token),
    ("component-value-quantity", Quantity),
    ("data-absent-reason", Token),
    ("date", Date),
    ("derived-from", Reference),
    ("device", Reference),
    ("encounter", Reference),
    ("focus", Reference),
    ("has-member", Reference),
    ("identifier", Token),
    ("method", Token),
    ("part-of", Reference),
    ("patient", Reference),
    ("performer", Reference),
    ("specimen", Reference),
    ("status", Token),
    ("subject", Reference),
    ("value-concept", Token),
    ("value-date", Date),
    ("value-quantity", Quantity),
    ("value-string", String),
];

const ORGANIZATION: &[(&str, SearchParamType)] = &[
    ("active", Token),
    ("address", String),
    ("address-city", String),
    ("address-country", String),
    ("address-postalcode", String),
    ("address-state", String),
    ("address-use", Token),
    ("endpoint", Reference),
    ("identifier", Token),
    ("name", String),
    ("partof", Reference),
    ("phonetic", String),
    ("type", Token),
];

const PATIENT: &[(&str, SearchParamType)] = &[
    ("active", Token),
    ("address", String),
    ("address-city", String),
    ("address-country", String),
    ("address-postalcode", String),
    ("address-state", String),
    ("address-use", Token),
    ("birthdate", Date),
    ("death-date", Date),
    ("deceased", Token),
    ("email", Token),
    ("family", String),
    ("gender", Token),
    ("general-practitioner", Reference),
    ("given", String),
    ("identifier", Token),
    ("language", Token),
    ("link", Reference),
    ("name", String),
    ("organization", Reference),
    ("phone", Token),
    ("phonetic", String),
    ("telecom", Token),
];

const PERSON: &[(&str, SearchParamType)] = &[
    ("address", String),
    ("address-city", String),
    ("address-country", String),
    ("address-postalcode", String),
    ("address-state", String),
    ("address-use", Token),
    ("birthdate", Date),
    ("email", Token),
    ("gender", Token),
    ("identifier", Token),
    ("link", Reference),
    ("name", String),
    ("organization", Reference),
    ("patient", Reference),
    ("phone", Token),
    ("phonetic", String),
    ("practitioner", Reference),
    ("relatedperson", Reference),
    ("telecom", Token),
];

const PRACTITIONER: &[(&str, SearchParamType)] = &[
    ("active", Token),
    ("address", String),
    ("address-city", String),
    ("address-country", String),
    ("address-postalcode", String),
    ("address-state", String),
    ("address-use", Token),
    ("communication", Token),
    ("email", Token),
    ("family", String),
    ("gender", Token),
    ("given", String),
    ("identifier", Token),
    ("name", String),
    ("phone", Token),
    ("phonetic", String),
    ("telecom", Token),
];

const PRACTITIONERROLE: &[(&str, SearchParamType)] = &[
    ("active", Token),
    ("date", Date),
    ("email", Token),
    ("endpoint", Reference),
    ("identifier", Token),
    ("location", Reference),
    ("organization", Reference),
    ("phone", Token),
    ("practitioner", Reference),
    ("role", Token),
    ("service", Reference),
    ("specialty", Token),
    ("telecom", Token),
];

const PROCEDURE: &[(&str, SearchParamType)] = &[
    ("based-on", Reference),
    ("category", Token),
    ("code", Token),
    ("date", Date),
    ("encounter", Reference),
    ("identifier", Token),
    ("instantiates-canonical", Reference),
    ("instantiates-uri", Uri),
    ("location", Reference),
    ("part-of", Reference),
    ("patient", Reference),
    ("performer", Reference),
    ("reason-code", Token),
    ("reason-reference", Reference),
    ("status", Token),
    ("subject", Reference),
];

const PROVENANCE: &[(&str, SearchParamType)] = &[
    ("agent", Reference),
    ("agent-role", Token),
    ("agent-type", Token),
    ("entity", Reference),
    ("location", Reference),
    ("patient", Reference),
    ("recorded", Date),
    ("signature-type", Token),
    ("target", Reference),
    ("when", Date),
];

const QUESTIONNAIRE: &[(&str, SearchParamType)] = &[
    ("code", Token),
    ("context", Token),
    ("date", Date),
    ("description", String),
    ("identifier", Token),
    ("name", String),
    ("publisher", String),
    ("status", Token),
    ("title", String),
    ("url", Uri),
    ("version", Token),
];

const QUESTIONNAIRERESPONSE: &[(&str, SearchParamType)] = &[
    ("author", Reference),
    ("authored", Date),
    ("based-on", Reference),
    ("encounter", Reference),
    ("identifier", Token),
    ("part-of", Reference),
    ("patient", Reference),
    ("questionnaire", Reference),
    ("source", Reference),
    ("status", Token),
    ("subject", Reference),
];

const RELATEDPERSON: &[(&str, SearchParamType)] = &[
    ("active", Token),
    ("address", String),
    ("address-city", String),
    ("address-country", String),
    ("address-postalcode", String),
    ("address-state", String),
    ("address-use", Token),
    ("birthdate", Date),
    ("email", Token),
    ("gender", Token),
    ("identifier", Token),
    ("name", String),
    ("patient", Reference),
    ("phone", Token),
    ("phonetic", String),
    ("relationship", Token),
    ("telecom", Token),
];

const RISKASSESSMENT: &[(&str, SearchParamType)] = &[
    ("condition", Reference),
    ("date", Date),
    ("encounter", Reference),
    ("identifier", Token),
    ("method", Token),
    ("patient", Reference),
    ("performer", Reference),
    ("probability", Number),
    ("risk", Token),
    ("subject", Reference),
];

const SCHEDULE: &[(&str, SearchParamType)] = &[
    ("active", Token),
    ("actor", Reference),
    ("date", Date),
    ("identifier", Token),
    ("service-type", Token),
    ("specialty", Token),
];

const SERVICEREQUEST: &[(&str, SearchParamType)] = &[
    ("authored", Date),
    ("based-on", Reference),
    ("body-site", Token),
    ("category", Token),
    ("code", Token),
    ("encounter", Reference),
    ("identifier", Token),
    ("instantiates-canonical", Reference),
    ("instantiates-uri", Uri),
    ("intent", Token),
    ("occurrence", Date),
    ("patient", Reference),
    ("performer", Reference),
    ("performer-type", Token),
    ("priority", Token),
    ("replaces", Reference),
    ("requester", Reference),
    ("requisition", Token),
    ("specimen", Reference),
    ("status", Token),
    ("subject", Reference),
];

const SLOT: &[(&str, SearchParamType)] = &[
    ("appointment-type", Token),
    ("identifier", Token),
    ("schedule", Reference),
    ("service-type", Token),
    ("specialty", Token),
    ("start", Date),
    ("status", Token),
];

const SPECIMEN: &[(&str, SearchParamType)] = &[
    ("accession", Token),
    ("bodysite", Token),
    ("collected", Date),
    ("collector", Reference),
    ("container", Token),
    ("container-id", Token),
    ("identifier", Token),
    ("parent", Reference),
    ("patient", Reference),
    ("status", Token),
    ("subject", Reference),
    ("type", Token),
];

const TASK: &[(&str, SearchParamType)] = &[
    ("authored-on", Date),
    ("based-on", Reference),
    ("business-status", Token),
    ("code", Token),
    ("encounter", Reference),
    ("focus", Reference),
    ("group-identifier", Token),
    ("identifier", Token),
    ("intent", Token),
    ("modified", Date),
    ("owner", Reference),
    ("part-of", Reference),
    ("patient", Reference),
    ("performer", Token),
    ("period", Date),
    ("priority", Token),
    ("requester", Reference),
    ("status", Token),
    ("subject", Reference),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(table: &[(&str, SearchParamType)]) -> bool {
        table.windows(2).all(|w| w[0].0 < w[1].0)
    }

    #[test]
    fn common_parameters_start_with_an_underscore() {
        assert!(COMMON.iter().all(|(name, _)| name.starts_with('_')));
    }

    #[test]
    fn every_table_is_sorted_for_binary_search() {
        assert!(sorted(COMMON));
        for ty in crate::RESOURCE_TYPES {
            assert!(sorted(type_params(ty)), "{ty}");
        }
    }

    #[test]
    fn parameters_have_their_specified_types() {
        assert_eq!(param_type("Patient", "birthdate"), Some(Date));
        assert_eq!(param_type("Patient", "family"), Some(String));
        assert_eq!(param_type("Observation", "code"), Some(Token));
        assert_eq!(param_type("Observation", "patient"), Some(Reference));
        assert_eq!(param_type("Observation", "value-quantity"), Some(Quantity));
        assert_eq!(param_type("Encounter", "_lastUpdated"), Some(Date));
        assert_eq!(param_type("Resource", "_id"), Some(Token));
        assert_eq!(param_type("Patient", "no-such-parameter"), None);
        assert_eq!(param_type("NoSuchType", "code"), None);
    }
}
