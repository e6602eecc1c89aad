//! The authorize phase: deny by default, one pure function, every decision with its rule.
//!
//! Order of checks: the department exists; the device may reach it (mTLS, zone); the caller's
//! training is current; the caller's department and role reach it (segmentation); the
//! department serves the resource type; the interaction's SMART letter is granted; a
//! `patient/` scope confines it to the patient's compartment; search parameters reach no type
//! the caller may not read; step-up MFA where policy demands it. A denial by segmentation,
//! scope or compartment can be widened by an active break-the-glass grant (read-mostly);
//! denials about the device, training or step-up cannot.

mod search;

use wardgate_fhir::rest::{FhirRequest, Interaction};

use crate::policy::AccessPolicy;
use crate::principal::{Principal, PrincipalKind};
use crate::scopes::ScopeContext;

pub use search::SearchParamError;

/// What the gateway asks about one exchange.
#[derive(Debug, Clone)]
pub struct AccessRequest<'a> {
    /// The department named by the path.
    pub department: &'a str,
    /// The classified FHIR request.
    pub fhir: &'a FhirRequest,
    /// The decoded query (and form body of `POST _search`) parameters, in order.
    pub params: &'a [(String, String)],
    /// The zone of the client certificate's device, if the connection presented one.
    pub device_zone: Option<&'a str>,
    /// Now, in Unix seconds.
    pub now: i64,
}

/// Which rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The department is not in the policy.
    UnknownDepartment,
    /// The department requires a client certificate and none was presented.
    MtlsRequired,
    /// The device's (or service's) zone may not reach the department.
    ZoneNotAllowed,
    /// A role requires current security training and it has lapsed.
    TrainingExpired,
    /// Neither the account's memberships nor its roles reach the department.
    Segmentation,
    /// The department does not serve this resource type.
    ResourceTypeNotServed,
    /// No granted scope covers the interaction on the type.
    ScopeMissing,
    /// A `patient/` scope without a patient context, or outside the patient's compartment.
    PatientCompartment,
    /// A search parameter (`_include`, `_revinclude`, chain, `_has`, `_type`) reaches a type
    /// the caller may not read or search.
    SearchParameter,
    /// The operation is not in the policy, or the caller's roles may not invoke it.
    OperationNotPermitted,
    /// The interaction needs a recent second factor.
    StepUpRequired,
    /// Break-the-glass does not unlock this interaction (deletes, bulk, system-wide).
    BreakGlassExcluded,
    /// Allowed: capabilities of a reachable department.
    Capabilities,
    /// Allowed: a batch or transaction, whose entries the gateway authorizes one by one.
    BatchEntries,
    /// Allowed by role, membership and scope.
    Scope,
    /// Allowed by an explicit operation policy.
    Operation,
    /// Allowed only under an active break-the-glass grant.
    BreakGlass,
}

impl Rule {
    /// The stable code recorded in the exchange record and the OperationOutcome.
    pub fn code(self) -> &'static str {
        match self {
            Rule::UnknownDepartment => "authz.unknown-department",
            Rule::MtlsRequired => "authz.mtls-required",
            Rule::ZoneNotAllowed => "authz.zone",
            Rule::TrainingExpired => "authz.training-expired",
            Rule::Segmentation => "authz.segmentation",
            Rule::ResourceTypeNotServed => "authz.resource-type",
            Rule::ScopeMissing => "authz.scope",
            Rule::PatientCompartment => "authz.patient-compartment",
            Rule::SearchParameter => "authz.search-parameter",
            Rule::OperationNotPermitted => "authz.operation",
            Rule::StepUpRequired => "authz.step-up",
            Rule::BreakGlassExcluded => "authz.break-glass-excluded",
            Rule::Capabilities => "authz.allow.capabilities",
            Rule::BatchEntries => "authz.allow.batch-entries",
            Rule::Scope => "authz.allow.scope",
            Rule::Operation => "authz.allow.operation",
            Rule::BreakGlass => "authz.allow.break-glass",
        }
    }

    /// Whether an active break-the-glass grant may override a denial by this rule.
    fn widenable(self) -> bool {
        matches!(
            self,
            Rule::Segmentation
                | Rule::ScopeMissing
                | Rule::PatientCompartment
                | Rule::SearchParameter
                | Rule::OperationNotPermitted
        )
    }
}

/// The answer of the authorize phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed or denied.
    pub allowed: bool,
    /// The rule that decided.
    pub rule: Rule,
    /// A sentence for the exchange record and the client (no secrets, no internals).
    pub reason: String,
    /// For `patient/` access and patient-bound break-the-glass: the patient whose compartment
    /// the request must stay in. Searches get an implicit `patient=<id>` filter (`_id` on
    /// Patient); reads by id and writes must be checked against it by the department.
    pub patient_filter: Option<String>,
    /// Granular scope constraints (`category=laboratory`) to apply as mandatory filters.
    pub constraints: Vec<(String, String)>,
    /// The break-the-glass grant the exchange is made under, to mark it in the record.
    pub break_glass: Option<String>,
    /// For a batch/transaction: authorize each entry with this same function.
    pub authorize_entries: bool,
    /// For a step-up denial: the maximum authentication age in seconds (`max_age`).
    pub step_up_max_age: Option<i64>,
}

impl Decision {
    fn deny(rule: Rule, reason: impl Into<String>) -> Decision {
        Decision {
            allowed: false,
            rule,
            reason: reason.into(),
            patient_filter: None,
            constraints: Vec::new(),
            break_glass: None,
            authorize_entries: false,
            step_up_max_age: None,
        }
    }

    fn allow(rule: Rule, reason: impl Into<String>) -> Decision {
        Decision {
            allowed: true,
            ..Decision::deny(rule, reason)
        }
    }
}

/// Decide whether `principal` may make `request` under `policy`.
pub fn authorize(
    policy: &AccessPolicy,
    principal: &Principal,
    request: &AccessRequest,
) -> Decision {
    let routine = routine_decision(policy, principal, request);
    if routine.allowed || !routine.rule.widenable() {
        return routine;
    }
    match break_glass_decision(policy, principal, request) {
        Some(decision) => decision,
        None => routine,
    }
}

fn routine_decision(policy: &AccessPolicy, principal: &Principal, req: &AccessRequest) -> Decision {
    if let Some(denied) = device_checks(policy, principal, req) {
        return denied;
    }
    if !member_reaches(policy, principal, req.department) {
        return Decision::deny(
            Rule::Segmentation,
            format!(
                "neither the account's departments nor its roles reach department '{}'",
                req.department
            ),
        );
    }
    let fhir = req.fhir;
    match fhir.interaction {
        Interaction::Capabilities => {
            return Decision::allow(Rule::Capabilities, "capabilities of a reachable department");
        }
        Interaction::Batch => {
            let mut d = Decision::allow(
                Rule::BatchEntries,
                "batch/transaction: each entry is authorized on its own",
            );
            d.authorize_entries = true;
            return d;
        }
        _ => {}
    }
    if let Some(denied) = served_check(policy, req) {
        return denied;
    }
    if let Interaction::Operation(_) = fhir.interaction {
        return operation_decision(policy, principal, req, false);
    }
    let Some(letter) = fhir.interaction.smart_permission() else {
        return Decision::deny(
            Rule::ScopeMissing,
            "the interaction is not covered by SMART scopes",
        );
    };
    let mut decision = match scope_decision(principal, req, letter) {
        Ok(d) => d,
        Err(denied) => return denied,
    };
    if let Err(e) = search::check_params(&principal.scopes, req.params) {
        return Decision::deny(Rule::SearchParameter, e.to_string());
    }
    if let Some(denied) = step_up_check(policy, principal, req) {
        return denied;
    }
    decision.reason = allowed_by_scope(
        fhir.interaction.name(),
        fhir.resource_type.as_deref().unwrap_or("*"),
        req.department,
    );
    decision
}

/// `"{interaction} on {type} allowed by scope in department '{department}'"`, the reason of
/// nearly every allowed request: put together in one allocation of the right size, without
/// the formatting machinery (`format!` was ~40% of the decision's cost).
fn allowed_by_scope(interaction: &str, resource_type: &str, department: &str) -> String {
    const ON: &str = " on ";
    const BY_SCOPE: &str = " allowed by scope in department '";
    let length =
        interaction.len() + ON.len() + resource_type.len() + BY_SCOPE.len() + department.len() + 1;
    let mut reason = String::with_capacity(length);
    reason.push_str(interaction);
    reason.push_str(ON);
    reason.push_str(resource_type);
    reason.push_str(BY_SCOPE);
    reason.push_str(department);
    reason.push('\'');
    reason
}

/// Checks about the device and the account that no emergency can override.
fn device_checks(
    policy: &AccessPolicy,
    principal: &Principal,
    req: &AccessRequest,
) -> Option<Decision> {
    let Some(department) = policy.departments.get(req.department) else {
        return Some(Decision::deny(
            Rule::UnknownDepartment,
            format!("department '{}' is not in the policy", req.department),
        ));
    };
    if department.require_mtls && req.device_zone.is_none() && principal.zone.is_none() {
        return Some(Decision::deny(
            Rule::MtlsRequired,
            format!(
                "department '{}' requires a client certificate",
                req.department
            ),
        ));
    }
    for zone in req
        .device_zone
        .iter()
        .chain(principal.zone.as_deref().iter())
    {
        if !department.zones.iter().any(|z| z == zone) {
            return Some(Decision::deny(
                Rule::ZoneNotAllowed,
                format!(
                    "zone '{zone}' may not reach department '{}'",
                    req.department
                ),
            ));
        }
    }
    let training_needed = principal
        .roles
        .iter()
        .filter_map(|r| policy.roles.get(r))
        .any(|r| r.training_required);
    if training_needed
        && principal
            .training_valid_until
            .is_none_or(|until| until < req.now)
    {
        return Some(Decision::deny(
            Rule::TrainingExpired,
            "security training has expired: access needs current training",
        ));
    }
    None
}

fn member_reaches(policy: &AccessPolicy, principal: &Principal, department: &str) -> bool {
    let member = principal.departments.iter().any(|d| d == department);
    let role_reaches = principal
        .roles
        .iter()
        .filter_map(|r| policy.roles.get(r))
        .any(|r| r.departments.iter().any(|d| d == department));
    member && role_reaches
}

fn served_check(policy: &AccessPolicy, req: &AccessRequest) -> Option<Decision> {
    let department = policy.departments.get(req.department)?;
    let (Some(served), Some(ty)) = (&department.resource_types, &req.fhir.resource_type) else {
        return None;
    };
    (!served.iter().any(|s| s == ty)).then(|| {
        // Name the departments that do serve it, so that the client knows where to send it.
        let homes: Vec<&str> = policy
            .departments
            .iter()
            .filter(|(_, d)| {
                d.resource_types
                    .as_ref()
                    .is_some_and(|types| types.iter().any(|s| s == ty))
            })
            .map(|(name, _)| name.as_str())
            .collect();
        let where_to = match homes.as_slice() {
            [] => "no department serves it".to_owned(),
            names => format!("it is served by /{}/fhir", names.join("/fhir, /")),
        };
        Decision::deny(
            Rule::ResourceTypeNotServed,
            format!(
                "department '{}' does not serve {ty}: {where_to}",
                req.department
            ),
        )
    })
}

fn scope_decision(
    principal: &Principal,
    req: &AccessRequest,
    letter: char,
) -> Result<Decision, Decision> {
    let fhir = req.fhir;
    let Some(ty) = fhir.resource_type.as_deref() else {
        // System-wide search or history, or a compartment search over every type.
        return if principal.scopes.covers_all_types(letter)
            || search::types_param_covered(&principal.scopes, req.params, letter)
        {
            Ok(Decision::allow(Rule::Scope, String::new()))
        } else {
            Err(Decision::deny(
                Rule::ScopeMissing,
                format!(
                    "a search across all types needs a '*.{letter}' scope or a _type list the scopes cover"
                ),
            ))
        };
    };
    let Some(scope) = principal.scopes.covering(ty, letter) else {
        return Err(Decision::deny(
            Rule::ScopeMissing,
            format!("no granted scope allows '{letter}' on {ty}"),
        ));
    };
    let mut decision = Decision::allow(Rule::Scope, String::new());
    decision.constraints = scope.constraints.clone();
    if scope.context == ScopeContext::Patient {
        let Some(patient) = principal.patient.as_deref() else {
            return Err(Decision::deny(
                Rule::PatientCompartment,
                "a patient/ scope needs a patient in context",
            ));
        };
        if let Some((compartment_type, id)) = &fhir.compartment
            && (compartment_type != "Patient" || id != patient)
        {
            return Err(Decision::deny(
                Rule::PatientCompartment,
                "the compartment is not the in-context patient's",
            ));
        }
        if ty == "Patient"
            && let Some(id) = fhir.id.as_deref()
            && id != patient
        {
            return Err(Decision::deny(
                Rule::PatientCompartment,
                "the Patient is not the in-context patient",
            ));
        }
        decision.patient_filter = Some(patient.to_owned());
    }
    Ok(decision)
}

fn operation_decision(
    policy: &AccessPolicy,
    principal: &Principal,
    req: &AccessRequest,
    under_break_glass: bool,
) -> Decision {
    let name = req.fhir.operation.as_deref().unwrap_or_default();
    let Some(op) = policy.operations.get(name) else {
        return Decision::deny(
            Rule::OperationNotPermitted,
            format!("operation ${name} has no policy (operations need one explicitly)"),
        );
    };
    if under_break_glass && !op.under_break_glass {
        return Decision::deny(
            Rule::BreakGlassExcluded,
            format!("operation ${name} is not available under break-the-glass"),
        );
    }
    if !under_break_glass && !principal.roles.iter().any(|r| op.roles.contains(r)) {
        return Decision::deny(
            Rule::OperationNotPermitted,
            format!("no role of the caller may invoke ${name}"),
        );
    }
    if !under_break_glass && let Some(letter) = op.permission {
        let covered = match req.fhir.resource_type.as_deref() {
            Some(ty) => principal.scopes.covering(ty, letter).is_some(),
            None => principal.scopes.covers_all_types(letter),
        };
        if !covered {
            return Decision::deny(
                Rule::ScopeMissing,
                format!("operation ${name} needs '{letter}' on its resource type"),
            );
        }
    }
    if let Some(denied) = step_up_check(policy, principal, req) {
        return denied;
    }
    Decision::allow(
        Rule::Operation,
        format!("operation ${name} allowed by policy"),
    )
}

fn step_up_check(
    policy: &AccessPolicy,
    principal: &Principal,
    req: &AccessRequest,
) -> Option<Decision> {
    let name = req.fhir.interaction.name();
    let op_name = req
        .fhir
        .operation
        .as_deref()
        .map(|o| format!("operation:{o}"));
    for rule in &policy.step_up {
        let applies = rule
            .interactions
            .iter()
            .any(|i| i == name || Some(i) == op_name.as_ref());
        if !applies || principal.kind == PrincipalKind::Service {
            continue;
        }
        let fresh =
            principal.has_second_factor() && req.now - principal.auth_time <= rule.within_seconds;
        if !fresh {
            let mut d = Decision::deny(
                Rule::StepUpRequired,
                format!(
                    "{name} needs a second factor within the last {} minutes",
                    rule.within_seconds / 60
                ),
            );
            d.step_up_max_age = Some(rule.within_seconds);
            return Some(d);
        }
    }
    None
}

fn break_glass_decision(
    policy: &AccessPolicy,
    principal: &Principal,
    req: &AccessRequest,
) -> Option<Decision> {
    let grant = principal.break_glass.as_ref()?;
    if grant.expires_at <= req.now || principal.kind != PrincipalKind::User {
        return None;
    }
    let role_allows = principal
        .roles
        .iter()
        .filter_map(|r| policy.roles.get(r))
        .any(|r| r.break_glass);
    if !role_allows {
        return None;
    }
    let excluded = |what: &str| {
        let mut d = Decision::deny(
            Rule::BreakGlassExcluded,
            format!("{what} is not available under break-the-glass"),
        );
        d.break_glass = Some(grant.id.clone());
        Some(d)
    };
    let fhir = req.fhir;
    match fhir.interaction {
        Interaction::Delete => return excluded("delete"),
        Interaction::SearchSystem | Interaction::HistorySystem => {
            return excluded("a search across the whole department");
        }
        Interaction::Operation(_) => {
            let mut d = operation_decision(policy, principal, req, true);
            if d.allowed {
                d.rule = Rule::BreakGlass;
            }
            d.break_glass = Some(grant.id.clone());
            d.patient_filter = grant.patient.clone();
            return Some(d);
        }
        _ => {}
    }
    if let Some(denied) = served_check(policy, req) {
        return Some(denied);
    }
    if let Some((compartment_type, id)) = &fhir.compartment
        && let Some(patient) = &grant.patient
        && (compartment_type != "Patient" || id != patient)
    {
        return excluded("another patient's compartment");
    }
    let mut d = Decision::allow(
        Rule::BreakGlass,
        format!(
            "{} on {} allowed under break-the-glass grant {}",
            fhir.interaction.name(),
            fhir.resource_type.as_deref().unwrap_or("*"),
            grant.id
        ),
    );
    d.break_glass = Some(grant.id.clone());
    d.patient_filter = grant.patient.clone();
    Some(d)
}

#[cfg(test)]
mod tests;
