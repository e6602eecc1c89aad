//! The resource types of FHIR R4 (4.0.1).

/// Every resource type of FHIR R4 (4.0.1), sorted so a lookup is a binary search.
pub const RESOURCE_TYPES: &[&str] = &[
    "Account",
    "ActivityDefinition",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "Binary",
    "BiologicallyDerivedProduct",
    "BodyStructure",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "CareTeam",
    "CatalogEntry",
    "ChargeItem",
    "ChargeItemDefinition",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "CodeSystem",
    "Communication",
    "CommunicationRequest",
    "CompartmentDefinition",
    "Composition",
    "ConceptMap",
    "Condition",
    "Consent",
    "Contract",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "Device",
    "DeviceDefinition",
    "DeviceMetric",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "EffectEvidenceSynthesis",
    "Encounter",
    "Endpoint",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "EpisodeOfCare",
    "EventDefinition",
    "Evidence",
    "EvidenceVariable",
    "ExampleScenario",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "GraphDefinition",
    "Group",
    "GuidanceResponse",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "ImplementationGuide",
    "InsurancePlan",
    "Invoice",
    "Library",
    "Linkage",
    "List",
    "Location",
    "Measure",
    "MeasureReport",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationKnowledge",
    "MedicationRequest",
    "MedicationStatement",
    "MedicinalProduct",
    "MedicinalProductAuthorization",
    "MedicinalProductContraindication",
    "MedicinalProductIndication",
    "MedicinalProductIngredient",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect",
    "MessageDefinition",
    "MessageHeader",
    "MolecularSequence",
    "NamingSystem",
    "NutritionOrder",
    "Observation",
    "ObservationDefinition",
    "OperationDefinition",
    "OperationOutcome",
    "Organization",
    "OrganizationAffiliation",
    "Parameters",
    "Patient",
    "PaymentNotice",
    "PaymentReconciliation",
    "Person",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "RequestGroup",
    "ResearchDefinition",
    "ResearchElementDefinition",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "RiskEvidenceSynthesis",
    "Schedule",
    "SearchParameter",
    "ServiceRequest",
    "Slot",
    "Specimen",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Subscription",
    "Substance",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "SubstanceSpecification",
    "SupplyDelivery",
    "SupplyRequest",
    "Task",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
    "VerificationResult",
    "VisionPrescription",
];

/// Whether `name` is a FHIR R4 resource type (case-sensitive, as the specification writes it).
///
/// Every type starts with an ASCII capital and the list is sorted, so the types with one
/// initial are one run of the list ([`BY_INITIAL`]); within it, only a type of the same length
/// is compared. The same answer as a binary search of the whole list (tested), for about a
/// third of its cost: a path, a reference or a search names a type on every FHIR request.
pub fn is_resource_type(name: &str) -> bool {
    let bytes = name.as_bytes();
    let Some(initial) = bytes.first().and_then(|b| b.checked_sub(b'A')) else {
        return false;
    };
    let Some(&(start, end)) = BY_INITIAL.get(usize::from(initial)) else {
        return false;
    };
    RESOURCE_TYPES
        .get(usize::from(start)..usize::from(end))
        .unwrap_or_default()
        .iter()
        .any(|t| t.len() == bytes.len() && t.as_bytes() == bytes)
}

/// For each initial `A`..=`Z`, the range of [`RESOURCE_TYPES`] that starts with it (empty for
/// an initial no type has).
static BY_INITIAL: [(u8, u8); 26] = {
    let mut ranges = [(0u8, 0u8); 26];
    let mut i = 0;
    while i < RESOURCE_TYPES.len() {
        let initial = RESOURCE_TYPES[i].as_bytes()[0];
        assert!(initial.is_ascii_uppercase(), "a type starts with a capital");
        let slot = (initial - b'A') as usize;
        if ranges[slot].1 == 0 {
            ranges[slot].0 = i as u8;
        }
        assert!(
            ranges[slot].1 == 0 || ranges[slot].1 as usize == i,
            "the types of one initial are one run of the sorted list"
        );
        ranges[slot].1 = (i + 1) as u8;
        i += 1;
    }
    ranges
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_complete() {
        assert!(RESOURCE_TYPES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(RESOURCE_TYPES.len(), 146);
        assert!(is_resource_type("Patient"));
        assert!(is_resource_type("VisionPrescription"));
        assert!(!is_resource_type("patient"));
        assert!(!is_resource_type("Patients"));
        assert!(!is_resource_type("DomainResource"));
    }

    #[test]
    fn the_lookup_by_initial_is_the_binary_search() {
        let binary = |name: &str| RESOURCE_TYPES.binary_search(&name).is_ok();
        let mut names: Vec<String> = Vec::new();
        for t in RESOURCE_TYPES {
            names.push((*t).to_owned());
            names.push(t.to_lowercase());
            names.push(t.to_uppercase());
            names.push(format!("{t}s"));
            names.push(t[..t.len() - 1].to_owned());
            names.push(t[1..].to_owned());
            names.push(format!("A{t}"));
            names.push(format!("{t}\0"));
        }
        for extra in [
            "",
            "A",
            "Z",
            "@",
            "[",
            "a",
            "\u{e9}",
            "Zz",
            "Patient/1",
            "\u{c9}tude",
        ] {
            names.push(extra.to_owned());
        }
        for name in &names {
            assert_eq!(is_resource_type(name), binary(name), "{name:?}");
        }
        assert_eq!(
            names.iter().filter(|n| is_resource_type(n)).count(),
            RESOURCE_TYPES.len()
        );
    }
}
