//! The FHIR `OperationOutcome`: the one error body every wardgate answer uses.
//!
//! Each refusal carries a FHIR issue code (what kind of problem, for FHIR clients) and a stable
//! wardgate code (exactly which rule, for operators and scripts), plus the request id so a
//! clinician's report can be matched to the exchange record. It never carries internals or the
//! offending payload.

use serde_json::{Map, Value, json};

/// The code system of wardgate's stable refusal codes, in `issue.details.coding.system`.
pub const WARDGATE_CODE_SYSTEM: &str = "urn:wardgate:outcome";

/// `issue.severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The action failed and cannot be retried as is.
    Fatal,
    /// The action failed.
    Error,
    /// The action succeeded with a caveat.
    Warning,
    /// Information only.
    Information,
}

impl Severity {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// `issue.code` (the FHIR R4 `issue-type` value set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the FHIR code of the same name
pub enum IssueCode {
    Invalid,
    Structure,
    Required,
    Value,
    Invariant,
    Security,
    Login,
    Unknown,
    Expired,
    Forbidden,
    Suppressed,
    Processing,
    NotSupported,
    Duplicate,
    MultipleMatches,
    NotFound,
    Deleted,
    TooLong,
    CodeInvalid,
    Extension,
    TooCostly,
    BusinessRule,
    Conflict,
    Transient,
    LockError,
    NoStore,
    Exception,
    Timeout,
    Incomplete,
    Throttled,
    Informational,
}

impl IssueCode {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            IssueCode::Invalid => "invalid",
            IssueCode::Structure => "structure",
            IssueCode::Required => "required",
            IssueCode::Value => "value",
            IssueCode::Invariant => "invariant",
            IssueCode::Security => "security",
            IssueCode::Login => "login",
            IssueCode::Unknown => "unknown",
            IssueCode::Expired => "expired",
            IssueCode::Forbidden => "forbidden",
            IssueCode::Suppressed => "suppressed",
            IssueCode::Processing => "processing",
            IssueCode::NotSupported => "not-supported",
            IssueCode::Duplicate => "duplicate",
            IssueCode::MultipleMatches => "multiple-matches",
            IssueCode::NotFound => "not-found",
            IssueCode::Deleted => "deleted",
            IssueCode::TooLong => "too-long",
            IssueCode::CodeInvalid => "code-invalid",
            IssueCode::Extension => "extension",
            IssueCode::TooCostly => "too-costly",
            IssueCode::BusinessRule => "business-rule",
            IssueCode::Conflict => "conflict",
            IssueCode::Transient => "transient",
            IssueCode::LockError => "lock-error",
            IssueCode::NoStore => "no-store",
            IssueCode::Exception => "exception",
            IssueCode::Timeout => "timeout",
            IssueCode::Incomplete => "incomplete",
            IssueCode::Throttled => "throttled",
            IssueCode::Informational => "informational",
        }
    }
}

/// One `issue` of an OperationOutcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// How bad it is.
    pub severity: Severity,
    /// The FHIR issue type.
    pub code: IssueCode,
    /// The stable wardgate code (e.g. `wardgate.rate-limited`), if any.
    pub wardgate_code: Option<String>,
    /// Human-readable explanation, without internals or payloads.
    pub diagnostics: Option<String>,
    /// FHIRPath expressions of the elements concerned.
    pub expression: Vec<String>,
}

/// A FHIR R4 OperationOutcome under construction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OperationOutcome {
    /// The issues, first the one that decided the answer.
    pub issues: Vec<Issue>,
    /// The request id the answer belongs to.
    pub request_id: Option<String>,
}

impl OperationOutcome {
    /// An outcome with one error issue.
    pub fn error(code: IssueCode, diagnostics: impl Into<String>) -> Self {
        Self::with_issue(Severity::Error, code, diagnostics)
    }

    /// An outcome with one issue of the given severity.
    pub fn with_issue(severity: Severity, code: IssueCode, diagnostics: impl Into<String>) -> Self {
        OperationOutcome {
            issues: vec![Issue {
                severity,
                code,
                wardgate_code: None,
                diagnostics: Some(diagnostics.into()),
                expression: Vec::new(),
            }],
            request_id: None,
        }
    }

    /// Set the stable wardgate code of the first issue (e.g. `wardgate.mtls.required`).
    pub fn with_code(mut self, wardgate_code: impl Into<String>) -> Self {
        if let Some(issue) = self.issues.first_mut() {
            issue.wardgate_code = Some(wardgate_code.into());
        }
        self
    }

    /// Name the element the first issue is about (a FHIRPath expression).
    pub fn with_expression(mut self, expression: impl Into<String>) -> Self {
        if let Some(issue) = self.issues.first_mut() {
            issue.expression.push(expression.into());
        }
        self
    }

    /// Attach the request id (echoed in `X-Request-Id` and the exchange record).
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Add another issue.
    pub fn push(&mut self, issue: Issue) {
        self.issues.push(issue);
    }

    /// The outcome as a FHIR JSON value.
    ///
    /// The request id goes into `issue.details.text` of the first issue (where a FHIR client
    /// shows it to the user) and into an `informational` issue, so it survives clients that
    /// show only diagnostics.
    pub fn to_json(&self) -> Value {
        json!({ "resourceType": "OperationOutcome", "issue": self.issues_json() })
    }

    /// The outcome as FHIR JSON text, `resourceType` first as FHIR JSON is written (a JSON
    /// object's keys are otherwise printed in sorted order).
    pub fn to_json_string(&self) -> String {
        format!(
            r#"{{"resourceType":"OperationOutcome","issue":{}}}"#,
            Value::Array(self.issues_json())
        )
    }

    fn issues_json(&self) -> Vec<Value> {
        let mut issues: Vec<Value> = self.issues.iter().map(issue_json).collect();
        if let Some(id) = &self.request_id {
            if let Some(Value::Object(first)) = issues.first_mut() {
                let details = first
                    .entry("details")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(details) = details {
                    details.insert("text".into(), Value::String(format!("request id {id}")));
                }
            }
            issues.push(json!({
                "severity": "information",
                "code": "informational",
                "diagnostics": format!("request id {id}"),
            }));
        }
        issues
    }
}

fn issue_json(issue: &Issue) -> Value {
    let mut out = Map::new();
    out.insert("severity".into(), issue.severity.code().into());
    out.insert("code".into(), issue.code.code().into());
    if let Some(code) = &issue.wardgate_code {
        out.insert(
            "details".into(),
            json!({ "coding": [{ "system": WARDGATE_CODE_SYSTEM, "code": code }] }),
        );
    }
    if let Some(diagnostics) = &issue.diagnostics {
        out.insert("diagnostics".into(), diagnostics.clone().into());
    }
    if !issue.expression.is_empty() {
        out.insert("expression".into(), issue.expression.clone().into());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_carries_its_codes_and_request_id() {
        let outcome = OperationOutcome::error(IssueCode::Throttled, "too many requests")
            .with_code("wardgate.rate-limited")
            .with_request_id("req-1");
        let json = outcome.to_json();
        assert_eq!(json["resourceType"], "OperationOutcome");
        let text = outcome.to_json_string();
        assert!(
            text.starts_with(r#"{"resourceType":"OperationOutcome","issue":[{"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json);
        let first = &json["issue"][0];
        assert_eq!(first["severity"], "error");
        assert_eq!(first["code"], "throttled");
        assert_eq!(first["diagnostics"], "too many requests");
        assert_eq!(
            first["details"]["coding"][0]["code"],
            "wardgate.rate-limited"
        );
        assert_eq!(
            first["details"]["coding"][0]["system"],
            WARDGATE_CODE_SYSTEM
        );
        assert_eq!(first["details"]["text"], "request id req-1");
        assert_eq!(json["issue"][1]["code"], "informational");
        let text = outcome.to_json_string();
        assert!(serde_json::from_str::<Value>(&text).is_ok());
    }

    #[test]
    fn an_outcome_without_extras_is_minimal() {
        let json = OperationOutcome::error(IssueCode::NotFound, "no such resource").to_json();
        assert_eq!(json["issue"].as_array().map(Vec::len), Some(1));
        assert!(json["issue"][0].get("details").is_none());
    }
}
