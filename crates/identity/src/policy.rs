//! The part of the central policy identity reads: departments and zones (segmentation), roles
//! (SMART scopes, memberships, MFA, break-the-glass, training), operations, step-up rules and
//! trusted external issuers.
//!
//! The policy crate owns the file (`wardgate.toml`) and its validation; the gateway converts
//! its model into an [`AccessPolicy`] when the policy loads or reloads. Keeping this a plain
//! data type means identity does not depend on how the file is read, and the authorization
//! function stays pure.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Whether a role must use a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaRequirement {
    /// MFA at every login (the default for every human role).
    Required,
    /// MFA only if the account enrolled one.
    Optional,
}

/// What one role may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAccess {
    /// SMART scopes: the ceiling of what a token for this role can carry.
    pub scopes: Vec<String>,
    /// Departments the role may reach at all (an account reaches the intersection with its
    /// own memberships).
    pub departments: Vec<String>,
    /// MFA at login.
    pub mfa: MfaRequirement,
    /// Whether the role may declare an emergency (break-the-glass).
    pub break_glass: bool,
    /// Whether access needs current security training.
    pub training_required: bool,
}

/// What reaching one department requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentAccess {
    /// Device zones allowed to reach it.
    pub zones: Vec<String>,
    /// Whether a client certificate (device identity) is required.
    pub require_mtls: bool,
    /// The resource types the department serves; `None`: all.
    pub resource_types: Option<Vec<String>>,
}

/// Who may invoke one `$operation` (SMART scopes do not cover operations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationAccess {
    /// Roles allowed to invoke it.
    pub roles: Vec<String>,
    /// The SMART letter the caller also needs on the operation's resource type (`r` for
    /// `$everything`); `None`: the role list alone decides.
    pub permission: Option<char>,
    /// Whether it stays available under break-the-glass (bulk export never is).
    pub under_break_glass: bool,
}

/// Break-the-glass settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakGlassPolicy {
    /// How long a grant lasts, in seconds.
    pub duration_seconds: i64,
    /// Whether declaring needs a fresh second factor.
    pub require_step_up: bool,
}

/// A rule requiring a recent second factor for some interactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpRule {
    /// FHIR interaction names (`delete`, `update`, ...) or `operation:NAME`.
    pub interactions: Vec<String>,
    /// The second factor must be at most this old, in seconds.
    pub within_seconds: i64,
}

/// Where an external issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// Fetched over HTTP(S), cached, refreshed on an unknown `kid` (rate limited).
    Url(String),
    /// Read from a file (air-gapped sites).
    File(PathBuf),
}

/// A trusted external OpenID Connect issuer (Keycloak, Entra ID, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// Its signing keys.
    pub jwks: JwksSource,
    /// The `aud` its tokens must carry for wardgate.
    pub audience: String,
    /// The claim holding the user's name (`preferred_username`).
    pub username_claim: String,
    /// The claim holding group or role names (`roles`, `groups`).
    pub role_claim: String,
    /// Issuer role/group name -> wardgate role.
    pub role_map: BTreeMap<String, String>,
    /// The claim holding departments, if any.
    pub department_claim: Option<String>,
    /// Issuer department value -> wardgate department.
    pub department_map: BTreeMap<String, String>,
}

/// Everything identity needs from the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Departments by name.
    pub departments: BTreeMap<String, DepartmentAccess>,
    /// Roles by name.
    pub roles: BTreeMap<String, RoleAccess>,
    /// Operations by name (without `$`).
    pub operations: BTreeMap<String, OperationAccess>,
    /// Break-the-glass settings.
    pub break_glass: BreakGlassPolicy,
    /// Step-up rules.
    pub step_up: Vec<StepUpRule>,
    /// Trusted external issuers.
    pub trusted_issuers: Vec<TrustedIssuer>,
}

/// The nine staff roles of the default policy.
pub const DEFAULT_ROLES: [&str; 9] = [
    "physician",
    "nurse",
    "radiologist",
    "laboratory_technician",
    "pharmacist",
    "admissions_clerk",
    "security_officer",
    "auditor",
    "administrator",
];

/// The roles of system accounts in the default policy.
pub const DEFAULT_SERVICE_ROLES: [&str; 2] = ["lab_analyser", "interface_engine"];

/// The five departments of the default policy.
pub const DEFAULT_DEPARTMENTS: [&str; 5] =
    ["emergency", "radiology", "laboratory", "pharmacy", "record"];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn role(scopes: &[&str], departments: &[&str], break_glass: bool) -> RoleAccess {
    RoleAccess {
        scopes: strings(scopes),
        departments: strings(departments),
        mfa: MfaRequirement::Required,
        break_glass,
        training_required: false,
    }
}

fn department(zones: &[&str], resource_types: Option<&[&str]>) -> DepartmentAccess {
    DepartmentAccess {
        zones: strings(zones),
        require_mtls: false,
        resource_types: resource_types.map(strings),
    }
}

impl AccessPolicy {
    /// The default hospital policy, as the policy crate's default file defines it (a test
    /// keeps the two equal), plus the two system roles (`lab_analyser`, `interface_engine`)
    /// that file does not have yet. For tests, benchmarks and tools that run without a
    /// policy file; the gateway uses [`AccessPolicy::from_policy`].
    pub fn hospital_default() -> AccessPolicy {
        let all = &DEFAULT_DEPARTMENTS;
        let mut departments = BTreeMap::from([
            (
                "emergency".to_owned(),
                department(
                    &["clinical", "devices"],
                    Some(&[
                        "Patient",
                        "Encounter",
                        "Observation",
                        "Condition",
                        "AllergyIntolerance",
                        "Procedure",
                    ]),
                ),
            ),
            (
                "radiology".to_owned(),
                department(
                    &["clinical", "devices"],
                    Some(&["ImagingStudy", "DiagnosticReport", "ServiceRequest"]),
                ),
            ),
            (
                "laboratory".to_owned(),
                department(
                    &["clinical", "devices"],
                    Some(&[
                        "Observation",
                        "DiagnosticReport",
                        "Specimen",
                        "ServiceRequest",
                    ]),
                ),
            ),
            (
                "pharmacy".to_owned(),
                department(
                    &["clinical"],
                    Some(&[
                        "MedicationRequest",
                        "MedicationDispense",
                        "MedicationAdministration",
                        "Medication",
                    ]),
                ),
            ),
            (
                "record".to_owned(),
                department(
                    &["clinical"],
                    Some(&[
                        "Patient",
                        "Practitioner",
                        "PractitionerRole",
                        "Organization",
                        "Encounter",
                        "Condition",
                        "Observation",
                        "AllergyIntolerance",
                        "Procedure",
                        "MedicationStatement",
                        "Immunization",
                        "DocumentReference",
                        "Binary",
                        "Consent",
                        "Composition",
                        "Provenance",
                        "AuditEvent",
                    ]),
                ),
            ),
        ]);
        // The record also keeps every type no department lists (`"others"` in the file).
        let others = wardgate_policy::other_resource_types(
            departments
                .values()
                .flat_map(|d| d.resource_types.iter().flatten())
                .map(String::as_str),
        );
        if let Some(types) = departments
            .get_mut("record")
            .and_then(|d| d.resource_types.as_mut())
        {
            types.extend(others.into_iter().map(str::to_owned));
        }
        let roles = BTreeMap::from([
            ("physician".to_owned(), role(&["user/*.cruds"], all, true)),
            (
                "nurse".to_owned(),
                role(
                    &[
                        "user/Patient.rs",
                        "user/Observation.cruds",
                        "user/MedicationAdministration.cru",
                    ],
                    &["emergency", "record"],
                    true,
                ),
            ),
            (
                "radiologist".to_owned(),
                role(
                    &[
                        "user/ImagingStudy.cruds",
                        "user/DiagnosticReport.cruds",
                        "user/ServiceRequest.rs",
                        "user/Patient.rs",
                    ],
                    &["radiology", "record"],
                    false,
                ),
            ),
            (
                "laboratory_technician".to_owned(),
                role(
                    &[
                        "user/Observation.crus",
                        "user/Specimen.cruds",
                        "user/DiagnosticReport.crus",
                        "user/ServiceRequest.rs",
                    ],
                    &["laboratory"],
                    false,
                ),
            ),
            (
                "pharmacist".to_owned(),
                role(
                    &[
                        "user/MedicationRequest.rus",
                        "user/MedicationDispense.cruds",
                        "user/Medication.rs",
                        "user/Patient.rs",
                        "user/AllergyIntolerance.rs",
                    ],
                    &["pharmacy", "record"],
                    false,
                ),
            ),
            (
                "admissions_clerk".to_owned(),
                role(
                    &["user/Patient.crus", "user/Encounter.crus"],
                    &["emergency", "record"],
                    false,
                ),
            ),
            // Security staff, auditors and administrators run wardgate; they read no clinical
            // data through the department APIs (separation of duties).
            ("security_officer".to_owned(), role(&[], &[], false)),
            (
                "auditor".to_owned(),
                role(&["user/AuditEvent.rs", "user/Provenance.rs"], all, false),
            ),
            ("administrator".to_owned(), role(&[], &[], false)),
            // Systems: a laboratory analyser posting results, an HL7 interface engine
            // registering admissions. MFA does not apply (mTLS or private_key_jwt instead).
            (
                "lab_analyser".to_owned(),
                RoleAccess {
                    mfa: MfaRequirement::Optional,
                    ..role(
                        &[
                            "system/Observation.cru",
                            "system/DiagnosticReport.cru",
                            "system/Specimen.rs",
                        ],
                        &["laboratory"],
                        false,
                    )
                },
            ),
            (
                "interface_engine".to_owned(),
                RoleAccess {
                    mfa: MfaRequirement::Optional,
                    ..role(
                        &["system/Patient.crus", "system/Encounter.crus"],
                        &["emergency", "record"],
                        false,
                    )
                },
            ),
        ]);
        let operations = BTreeMap::from([
            (
                "everything".to_owned(),
                OperationAccess {
                    roles: strings(&["physician"]),
                    permission: Some('r'),
                    under_break_glass: true,
                },
            ),
            (
                "validate".to_owned(),
                OperationAccess {
                    roles: strings(&["physician", "nurse", "laboratory_technician"]),
                    permission: Some('c'),
                    under_break_glass: false,
                },
            ),
            (
                "export".to_owned(),
                OperationAccess {
                    roles: Vec::new(),
                    permission: None,
                    under_break_glass: false,
                },
            ),
        ]);
        AccessPolicy {
            departments,
            roles,
            operations,
            break_glass: BreakGlassPolicy {
                duration_seconds: 30 * 60,
                require_step_up: true,
            },
            step_up: vec![StepUpRule {
                interactions: strings(&["delete"]),
                within_seconds: 15 * 60,
            }],
            trusted_issuers: Vec::new(),
        }
    }

    /// Add the built-in system roles (`lab_analyser`, `interface_engine`) where the policy
    /// does not define them (the policy crate's default file has no system roles yet).
    pub fn with_default_system_roles(mut self) -> Self {
        let built_in = AccessPolicy::hospital_default();
        for role in DEFAULT_SERVICE_ROLES {
            if let (false, Some(access)) = (self.roles.contains_key(role), built_in.roles.get(role))
            {
                self.roles.insert(role.to_owned(), access.clone());
            }
        }
        self
    }

    /// Whether a role exists.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains_key(role)
    }

    /// Whether a department exists.
    pub fn has_department(&self, department: &str) -> bool {
        self.departments.contains_key(department)
    }

    /// The union of the scopes of `roles`.
    pub fn scopes_of(&self, roles: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in roles.iter().filter_map(|r| self.roles.get(r)) {
            for s in &r.scopes {
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
        }
        out
    }

    /// Whether any of `roles` requires MFA.
    pub fn mfa_required(&self, roles: &[String]) -> bool {
        roles
            .iter()
            .filter_map(|r| self.roles.get(r))
            .any(|r| r.mfa == MfaRequirement::Required)
    }
}

impl AccessPolicy {
    /// The access part of a validated central policy (what the gateway passes on load and
    /// on every reload).
    pub fn from_policy(policy: &wardgate_policy::Policy) -> AccessPolicy {
        use wardgate_policy as p;
        let departments = policy
            .departments
            .iter()
            .map(|(name, d)| {
                (
                    name.clone(),
                    DepartmentAccess {
                        zones: d.zones.clone(),
                        require_mtls: d.require_mtls,
                        resource_types: d.resource_types.clone(),
                    },
                )
            })
            .collect();
        let roles = policy
            .roles
            .iter()
            .map(|(name, r)| {
                (
                    name.clone(),
                    RoleAccess {
                        scopes: r.scopes.clone(),
                        departments: r.departments.clone(),
                        mfa: match r.mfa {
                            p::MfaRequirement::Required => MfaRequirement::Required,
                            p::MfaRequirement::Optional => MfaRequirement::Optional,
                        },
                        break_glass: r.break_glass,
                        training_required: r.training_required,
                    },
                )
            })
            .collect();
        let operations = policy
            .operations
            .iter()
            .map(|(name, o)| {
                (
                    name.clone(),
                    OperationAccess {
                        roles: o.roles.clone(),
                        permission: o.permission,
                        under_break_glass: o.under_break_glass,
                    },
                )
            })
            .collect();
        let seconds = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        AccessPolicy {
            departments,
            roles,
            operations,
            break_glass: BreakGlassPolicy {
                duration_seconds: seconds(policy.break_glass.duration),
                require_step_up: policy.break_glass.require_step_up,
            },
            step_up: policy
                .step_up
                .iter()
                .map(|r| StepUpRule {
                    interactions: r.interactions.clone(),
                    within_seconds: seconds(r.within),
                })
                .collect(),
            trusted_issuers: policy
                .trusted_issuers
                .iter()
                .map(|t| TrustedIssuer {
                    issuer: t.issuer.clone(),
                    jwks: match &t.jwks {
                        p::JwksSource::Url(u) => JwksSource::Url(u.clone()),
                        p::JwksSource::File(f) => JwksSource::File(f.clone()),
                    },
                    audience: t.audience.clone(),
                    username_claim: t.username_claim.clone(),
                    role_claim: t.role_claim.clone(),
                    role_map: t.role_map.clone(),
                    department_claim: t.department_claim.clone(),
                    department_map: t.department_map.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy crate's default file and identity's built-in default must not drift apart:
    /// same departments, same staff roles, same operations, break-the-glass and step-up.
    #[test]
    fn the_default_policy_file_gives_the_built_in_default() {
        let validated = wardgate_policy::Policy::hospital_default().expect("the default parses");
        let from_file = AccessPolicy::from_policy(&validated.policy);
        let built_in = AccessPolicy::hospital_default();
        for role in DEFAULT_ROLES {
            assert_eq!(
                from_file.roles.get(role),
                built_in.roles.get(role),
                "role {role}"
            );
        }
        assert_eq!(from_file.operations, built_in.operations);
        assert_eq!(from_file.break_glass, built_in.break_glass);
        assert_eq!(from_file.step_up, built_in.step_up);
        for department in DEFAULT_DEPARTMENTS {
            let (a, b) = (
                &from_file.departments[department],
                &built_in.departments[department],
            );
            assert_eq!(a.zones, b.zones, "{department}");
            assert_eq!(a.require_mtls, b.require_mtls, "{department}");
            let sorted = |t: &Option<Vec<String>>| {
                let mut t = t.clone().unwrap_or_default();
                t.sort();
                t
            };
            assert_eq!(
                sorted(&a.resource_types),
                sorted(&b.resource_types),
                "{department}"
            );
        }
    }
}
