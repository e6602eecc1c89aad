//! Built-in department services: FHIR R4 and DICOMweb with encrypted per-department stores.
#![forbid(unsafe_code)]
