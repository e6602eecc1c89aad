//! The department's CapabilityStatement (`GET [base]/metadata`): public, like SMART discovery.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};
use wardgate_fhir::search::SearchParamType;

use super::{fhir_response, params};
use crate::service::Department;

fn type_code(t: SearchParamType) -> &'static str {
    match t {
        SearchParamType::Number => "number",
        SearchParamType::Date => "date",
        SearchParamType::String => "string",
        SearchParamType::Token => "token",
        SearchParamType::Reference => "reference",
        SearchParamType::Composite => "composite",
        SearchParamType::Quantity => "quantity",
        SearchParamType::Uri => "uri",
        SearchParamType::Special => "special",
    }
}

/// Build the CapabilityStatement of `dept`.
pub fn capability_json(dept: &Department) -> Value {
    let config = dept.config();
    let base = config.base_url.trim_end_matches('/');
    let resources: Vec<Value> = config
        .resource_types
        .iter()
        .map(|rtype| {
            let names = params::supported_names(rtype);
            let search_params: Vec<Value> = names
                .iter()
                .map(|(name, t)| json!({"name": name, "type": type_code(*t)}))
                .collect();
            // `_include` follows this type's reference parameters; `_revinclude` those of
            // the types this department serves that can point here.
            let search_include: Vec<String> = names
                .iter()
                .filter(|(_, t)| *t == SearchParamType::Reference)
                .map(|(name, _)| format!("{rtype}:{name}"))
                .collect();
            let search_rev_include: Vec<String> = config
                .resource_types
                .iter()
                .flat_map(|source| {
                    params::supported_names(source)
                        .into_iter()
                        .filter(|(_, t)| *t == SearchParamType::Reference)
                        .map(move |(name, _)| format!("{source}:{name}"))
                })
                .collect();
            let interactions: Vec<Value> = [
                "read",
                "vread",
                "update",
                "patch",
                "delete",
                "history-instance",
                "history-type",
                "create",
                "search-type",
            ]
            .iter()
            .map(|code| json!({ "code": code }))
            .collect();
            json!({
                "type": rtype,
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": true,
                "conditionalUpdate": true,
                "conditionalDelete": "single",
                "interaction": interactions,
                "searchInclude": search_include,
                "searchRevInclude": search_rev_include,
                "searchParam": search_params,
            })
        })
        .collect();
    // The OAuth endpoints are the gateway's (identity issue); the URIs follow the URL contract.
    let origin = base.rsplit_once('/').map_or(base, |(origin, _)| origin);
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "kind": "instance",
        "software": {"name": "wardgate", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": format!("wardgate {} department", config.name), "url": format!("{base}/fhir")},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": false,
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR"}]}],
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [
                        {"url": "authorize", "valueUri": format!("{origin}/auth/authorize")},
                        {"url": "token", "valueUri": format!("{origin}/auth/token")},
                        {"url": "revoke", "valueUri": format!("{origin}/auth/revoke")},
                    ]
                }]
            },
            "resource": resources,
            "interaction": [{"code": "batch"}, {"code": "transaction"}, {"code": "history-system"}],
        }],
    })
}

/// The CapabilityStatement as an answer.
pub fn capability_statement(dept: &Department) -> Response<Bytes> {
    fhir_response(
        StatusCode::OK,
        capability_json(dept).to_string().into_bytes(),
        &[],
    )
}
