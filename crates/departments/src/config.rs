//! What a department is configured with (from the central policy) and the default set of
//! departments.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::fhir::ResourceLimits;

/// One built-in department's configuration.
#[derive(Debug, Clone)]
pub struct DepartmentConfig {
    /// The department's name, e.g. `emergency` (its URL prefix).
    pub name: String,
    /// The FHIR resource types it serves.
    pub resource_types: Vec<String>,
    /// Its public base URL (without `/fhir`), used in `Location`, `fullUrl` and paging links,
    /// e.g. `https://127.0.0.1:8443/emergency`.
    pub base_url: String,
    /// Whether it offers DICOMweb (radiology by default).
    pub dicom: bool,
    /// Body, depth and Bundle limits.
    pub limits: ResourceLimits,
    /// The page size when a search names none.
    pub default_count: usize,
    /// The largest page size a search may ask for.
    pub max_count: usize,
    /// The largest DICOM instance accepted in a STOW-RS request, in bytes.
    pub max_instance_bytes: usize,
}

impl DepartmentConfig {
    /// A department with the default resource types of its name and default limits.
    pub fn with_defaults(name: &str, public_origin: &str) -> Self {
        DepartmentConfig {
            name: name.to_owned(),
            resource_types: default_resource_types(name).to_vec(),
            base_url: format!("{}/{name}", public_origin.trim_end_matches('/')),
            dicom: name == "radiology",
            limits: ResourceLimits::default(),
            default_count: 50,
            max_count: 500,
            max_instance_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The default departments, in the order of the URL contract.
pub const DEFAULT_DEPARTMENTS: &[&str] =
    &["emergency", "radiology", "laboratory", "pharmacy", "record"];

/// The resource types of each default department, as the default policy file lists them
/// (`wardgate.toml` as written on first start), so that a department started without a
/// policy serves exactly what it serves under the default policy.
static DEFAULT_TYPES: LazyLock<BTreeMap<String, Vec<String>>> = LazyLock::new(|| {
    let validated = wardgate_policy::Policy::hospital_default()
        .unwrap_or_else(|errors| panic!("the embedded default policy is invalid: {errors:?}"));
    validated
        .policy
        .departments
        .iter()
        .map(|(name, d)| (name.clone(), d.resource_types.clone().unwrap_or_default()))
        .collect()
});

/// The resource types a department serves by default (the default policy's list; the patient
/// record's includes every type no other department serves). Empty for other names.
pub fn default_resource_types(department: &str) -> &'static [String] {
    DEFAULT_TYPES.get(department).map_or(&[], Vec::as_slice)
}

/// The default department that stores `rtype`: the first that serves it, else `record`.
pub fn default_department_for(rtype: &str) -> &'static str {
    DEFAULT_DEPARTMENTS
        .iter()
        .copied()
        .find(|d| default_resource_types(d).iter().any(|t| t == rtype))
        .unwrap_or("record")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_type_has_a_home() {
        let serves = |d: &str, t: &str| default_resource_types(d).iter().any(|s| s == t);
        for t in wardgate_fhir::RESOURCE_TYPES {
            let home = default_department_for(t);
            assert!(serves(home, t), "{t} -> {home}");
        }
        assert_eq!(default_department_for("Observation"), "emergency");
        assert_eq!(default_department_for("Specimen"), "laboratory");
        assert_eq!(default_department_for("DocumentReference"), "record");
        assert_eq!(default_department_for("Claim"), "record");
        // The patient record keeps the whole history, as the default policy file says.
        for t in ["Patient", "Encounter", "Observation", "Condition", "Binary"] {
            assert!(serves("record", t), "{t}");
        }
        assert!(!serves("record", "ImagingStudy"));
        assert!(default_resource_types("cafeteria").is_empty());
    }

    #[test]
    fn a_department_without_a_policy_serves_what_the_default_policy_lists() {
        let policy = wardgate_policy::Policy::hospital_default().unwrap().policy;
        for name in DEFAULT_DEPARTMENTS {
            let config = DepartmentConfig::with_defaults(name, "https://127.0.0.1:8443");
            let listed = policy.departments[*name].resource_types.clone().unwrap();
            assert_eq!(config.resource_types, listed, "{name}");
        }
    }
}
