//! The authenticate and authorize phases: who is asking (identity's verdict on the bearer
//! token or the client certificate), and may they ask this of this department (identity's
//! decision, enforced here: its patient filter and constraints are applied to the forwarded
//! query or the request is refused; a batch or transaction is authorized entry by entry).

use wardgate_identity::{AccessRequest, AuthError, Credentials, Identity, Rule};
use wardgate_policy::{DeviceRefusal, ResolvedRoute};

use crate::access::{self, AskError, Asked};
use crate::batch::{BatchDenials, DeniedEntry};
use crate::decision::Decision;
use crate::exchange::{AuthorizationRecord, Exchange};

/// Go on, or end the exchange with a decision.
type Flow<T = ()> = Result<T, Decision>;

/// The authenticate phase: a principal, or anonymous (`exchange.principal` stays `None`).
pub(crate) async fn authenticate(
    identity: &Identity,
    exchange: &mut Exchange,
    authorization: Option<&http::HeaderValue>,
    department: Option<&str>,
) -> Flow {
    let authorization = match authorization.map(|v| v.to_str()) {
        None => None,
        Some(Ok(text)) => Some(text),
        Some(Err(_)) => {
            return Err(Decision::invalid_token(
                "wardgate.auth.invalid-token",
                "the Authorization header is not text".to_owned(),
            ));
        }
    };
    let fingerprint = exchange.device.as_ref().map(|d| d.fingerprint.to_string());
    let credentials = Credentials {
        authorization,
        client_cert_fingerprint: fingerprint.as_deref(),
        department,
    };
    // The token is judged as of the request's arrival: the clock was read then.
    match identity
        .authenticate_shared_at(credentials, exchange.received_at)
        .await
    {
        Ok(principal) => {
            exchange.principal = principal;
            Ok(())
        }
        // A device certificate bound to no service account identifies the device (its zone
        // still segments), not a caller: the exchange goes on as anonymous.
        Err(AuthError::InvalidClient(_)) if authorization.is_none() => Ok(()),
        Err(AuthError::Internal(detail)) => {
            tracing::error!(detail, "identity failed while authenticating");
            Err(Decision::authentication_unavailable())
        }
        Err(error) => Err(Decision::invalid_token(
            "wardgate.auth.invalid-token",
            format!("credentials refused: {}", refusal_reason(&error)),
        )),
    }
}

/// The precise reason for the record (never the token itself).
fn refusal_reason(error: &AuthError) -> String {
    match error {
        AuthError::InvalidToken(token) => token.to_string(),
        AuthError::InvalidClient(why) => (*why).to_owned(),
        other => other.to_string(),
    }
}

/// What the authorize phase allowed, and what forwarding must do about it.
#[derive(Debug)]
pub(crate) struct Authorized {
    /// What the request asks of the department.
    pub asked: Asked,
    /// Parameters to add to the forwarded query (the patient filter, scope constraints).
    pub added_query: Option<String>,
    /// The body must be read to finish authorizing: a batch or transaction's entries, or a
    /// `POST _search`'s form parameters.
    pub check_body: BodyCheck,
}

/// What of the body the authorization still has to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyCheck {
    /// Nothing.
    None,
    /// Every entry of the Bundle, as if sent alone.
    BundleEntries,
    /// The form parameters of a search sent by POST.
    SearchForm,
}

/// The authorize phase before the body is read: the device (revocation, mTLS, zone), then
/// identity's decision on the principal and what it asks. Deny by default: anonymous callers
/// reach only the capability statement.
pub(crate) fn authorize(
    identity: &Identity,
    exchange: &mut Exchange,
    revoked: bool,
    resolved: &ResolvedRoute<'_>,
    relative_path: &str,
    query: Option<&str>,
) -> Flow<Authorized> {
    if revoked {
        return Err(Decision::device_revoked());
    }
    let department = resolved.department_name();
    let zone = exchange.device.as_ref().map(|d| d.zone.clone());
    resolved
        .admit_device(zone.as_deref())
        .map_err(|refusal| match refusal {
            DeviceRefusal::CertificateRequired => Decision::mtls_required(department),
            DeviceRefusal::ZoneNotAllowed => Decision::zone_denied(department, zone.as_deref()),
        })?;
    let asked = match access::asked(exchange.method.as_str(), relative_path, query) {
        Ok(asked) => asked,
        // Who may not ask anything learns nothing about what the path means.
        Err(_) if exchange.principal.is_none() => {
            return Err(Decision::authentication_required(department));
        }
        Err(AskError::Fhir(reason)) => return Err(Decision::not_a_fhir_interaction(reason)),
        Err(AskError::Dicom(reason)) => return Err(Decision::dicom_not_supported(reason)),
    };
    let Some(principal) = exchange.principal.clone() else {
        if asked.is_public() {
            exchange.authorization = Some(AuthorizationRecord {
                rule: "authz.public.capabilities",
                reason: "the capability statement is public".to_owned(),
                break_glass: None,
                patient: None,
            });
            return Ok(Authorized {
                asked,
                added_query: None,
                check_body: BodyCheck::None,
            });
        }
        return Err(Decision::authentication_required(department));
    };
    let params = query_params(query)?;
    let fhir = asked.fhir();
    let decision = identity.authorize(
        &principal,
        &AccessRequest {
            department,
            fhir: &fhir,
            params: &params,
            device_zone: zone.as_deref(),
            now: identity.at(exchange.received_at),
        },
    );
    let mut record = AuthorizationRecord {
        rule: decision.rule.code(),
        reason: String::new(),
        break_glass: decision.break_glass.clone(),
        patient: decision.patient_filter.clone(),
    };
    if !decision.allowed {
        record.reason = decision.reason.clone();
        exchange.authorization = Some(record);
        return Err(denial(decision.rule, decision.reason));
    }
    // Allowed: the sentence moves to the record (the refusal above needed its own copy).
    record.reason = decision.reason;
    if asked == Asked::Other {
        // Identity decided on the capability interaction: what it allowed is reaching the
        // department at all. Say so, rather than "capabilities".
        record.rule = if decision.break_glass.is_some() {
            Rule::BreakGlass.code()
        } else {
            "authz.allow.department-api"
        };
        record.reason = format!(
            "{} {} of department '{department}' allowed by membership and role (no SMART scope describes a non-FHIR API)",
            exchange.method, relative_path
        );
    }
    exchange.authorization = Some(record);
    let added_query = access::confinement(
        decision.patient_filter.as_deref(),
        &decision.constraints,
        &asked,
    )
    .map_err(|reason| Decision::access_denied("wardgate.authz.cannot-confine", reason))?;
    let check_body = if decision.authorize_entries {
        BodyCheck::BundleEntries
    } else if exchange.method == http::Method::POST
        && matches!(&asked, Asked::Fhir(r) if r.interaction.smart_permission() == Some('s'))
    {
        BodyCheck::SearchForm
    } else {
        BodyCheck::None
    };
    Ok(Authorized {
        asked,
        added_query,
        check_body,
    })
}

/// The refusal for a denial: 401 with a step-up challenge when a recent second factor is
/// missing, 403 otherwise.
fn denial(rule: Rule, reason: String) -> Decision {
    if rule == Rule::StepUpRequired {
        Decision::step_up_required(rule.code(), reason)
    } else {
        Decision::access_denied(rule.code(), reason)
    }
}

fn query_params(query: Option<&str>) -> Flow<Vec<(String, String)>> {
    access::params(query.unwrap_or_default()).ok_or_else(|| {
        Decision::access_denied(
            "wardgate.authz.too-many-parameters",
            format!("more than {} parameters", access::MAX_PARAMS),
        )
    })
}

/// The authorize phase once the body is in: a `POST _search`'s form parameters join the
/// query's, and a batch or transaction is authorized entry by entry, each as if sent alone.
/// One denied entry refuses a transaction whole (it is atomic); in a batch, each denied entry
/// is answered with its own 403 and the others go on (`Some` denials, see `batch`).
pub(crate) fn authorize_body(
    identity: &Identity,
    exchange: &Exchange,
    resolved: &ResolvedRoute<'_>,
    authorized: &Authorized,
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Flow<Option<BatchDenials>> {
    let Some(principal) = exchange.principal.as_deref() else {
        return Ok(None);
    };
    let department = resolved.department_name();
    let zone = exchange.device.as_ref().map(|d| d.zone.as_str());
    let now = identity.at(exchange.received_at);
    let decide = |fhir: &wardgate_fhir::rest::FhirRequest, params: &[(String, String)]| {
        identity.authorize(
            principal,
            &AccessRequest {
                department,
                fhir,
                params,
                device_zone: zone,
                now,
            },
        )
    };
    match authorized.check_body {
        BodyCheck::None => Ok(None),
        BodyCheck::SearchForm => {
            let is_form = content_type.is_some_and(|c| {
                c.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
            if !is_form || body.is_empty() {
                return Ok(None);
            }
            let mut params = query_params(query)?;
            let text = String::from_utf8_lossy(body);
            params.extend(query_params(Some(&text))?);
            let decision = decide(&authorized.asked.fhir(), &params);
            if decision.allowed {
                Ok(None)
            } else {
                Err(denial(decision.rule, decision.reason))
            }
        }
        BodyCheck::BundleEntries => {
            let base = format!("{}fhir", resolved.department.prefix);
            let bundle =
                access::bundle_requests(body, &base).map_err(Decision::bundle_unreadable)?;
            let mut denied = Vec::new();
            for (index, entry) in bundle.entries.iter().enumerate() {
                let Err((code, reason)) = authorize_entry(&decide, entry) else {
                    continue;
                };
                if bundle.transaction {
                    return Err(Decision::access_denied(
                        "wardgate.authz.bundle-entry",
                        format!("entry {index}: {reason}; the whole transaction is refused"),
                    ));
                }
                denied.push(DeniedEntry {
                    index,
                    code,
                    diagnostics: format!("entry {index}: {reason}"),
                });
            }
            let total = bundle.entries.len();
            Ok((!denied.is_empty()).then_some(BatchDenials { total, denied }))
        }
    }
}

/// One entry of a batch or transaction, authorized as if sent alone: `Err` holds the stable
/// code and the reason of its denial.
fn authorize_entry(
    decide: &impl Fn(
        &wardgate_fhir::rest::FhirRequest,
        &[(String, String)],
    ) -> wardgate_identity::authorize::Decision,
    entry: &access::BundleEntry,
) -> Result<(), (&'static str, String)> {
    const ENTRY: &str = "wardgate.authz.bundle-entry";
    let fhir = wardgate_fhir::rest::classify(&entry.method, &entry.path, entry.query.as_deref())
        .map_err(|e| (ENTRY, e.to_string()))?;
    if fhir.interaction == wardgate_fhir::rest::Interaction::Batch {
        return Err((ENTRY, "a Bundle inside a Bundle".to_owned()));
    }
    let params = access::params(entry.query.as_deref().unwrap_or_default())
        .ok_or_else(|| (ENTRY, "too many parameters".to_owned()))?;
    let decision = decide(&fhir, &params);
    if !decision.allowed {
        return Err((
            decision.rule.code(),
            format!("{} ({})", decision.reason, decision.rule.code()),
        ));
    }
    if decision.patient_filter.is_some() || !decision.constraints.is_empty() {
        return Err((
            ENTRY,
            "patient-scoped or constrained access cannot be confined inside a Bundle".to_owned(),
        ));
    }
    Ok(())
}
