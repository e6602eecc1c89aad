//! What a department is configured with (from the central policy) and the default set of
//! departments.

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
            resource_types: default_resource_types(name)
                .into_iter()
                .map(str::to_owned)
                .collect(),
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

const EMERGENCY: &[&str] = &[
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "AllergyIntolerance",
    "Procedure",
];
const RADIOLOGY: &[&str] = &["ImagingStudy", "DiagnosticReport", "ServiceRequest"];
const LABORATORY: &[&str] = &[
    "ServiceRequest",
    "Specimen",
    "Observation",
    "DiagnosticReport",
];
const PHARMACY: &[&str] = &[
    "Medication",
    "MedicationRequest",
    "MedicationDispense",
    "MedicationAdministration",
];

/// What the record lists by name; it also keeps every type no default department lists.
const RECORD: &[&str] = &["Patient"];

/// The resource types a department serves by default. The patient record serves the master
/// patient index, documents and consents, and every type no other department serves.
pub fn default_resource_types(department: &str) -> Vec<&'static str> {
    match department {
        "emergency" => EMERGENCY.to_vec(),
        "radiology" => RADIOLOGY.to_vec(),
        "laboratory" => LABORATORY.to_vec(),
        "pharmacy" => PHARMACY.to_vec(),
        "record" => {
            let mut types = RECORD.to_vec();
            types.extend(wardgate_policy::other_resource_types(
                [EMERGENCY, RADIOLOGY, LABORATORY, PHARMACY, RECORD].concat(),
            ));
            // In `RESOURCE_TYPES` order, as the other lists of every type are.
            types.sort_unstable();
            types
        }
        _ => Vec::new(),
    }
}

/// The default department that stores `rtype`: the first that serves it, else `record`.
pub fn default_department_for(rtype: &str) -> &'static str {
    DEFAULT_DEPARTMENTS
        .iter()
        .copied()
        .find(|d| default_resource_types(d).contains(&rtype))
        .unwrap_or("record")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_type_has_a_home() {
        for t in wardgate_fhir::RESOURCE_TYPES {
            let home = default_department_for(t);
            assert!(default_resource_types(home).contains(t), "{t} -> {home}");
        }
        assert_eq!(default_department_for("Observation"), "emergency");
        assert_eq!(default_department_for("Specimen"), "laboratory");
        assert_eq!(default_department_for("DocumentReference"), "record");
        assert!(default_resource_types("record").contains(&"Patient"));
        assert!(!default_resource_types("record").contains(&"Observation"));
    }
}
