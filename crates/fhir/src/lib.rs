//! The FHIR R4 REST grammar that every wardgate crate shares.
//!
//! Owns: the list of R4 resource types, the id grammar, the classification of a request into a
//! FHIR interaction (and its SMART v2 permission letter), the search parameter table with a
//! grammar per parameter type, and the `OperationOutcome` error body.
//!
//! Must not know about: HTTP libraries, storage, policy or the network. Everything here is a
//! pure function over strings so the gateway, the firewall, identity and the department services
//! agree on one reading of a request.
#![forbid(unsafe_code)]

pub mod outcome;
pub mod rest;
pub mod search;
mod types;

pub use types::{RESOURCE_TYPES, is_resource_type};

/// The FHIR JSON media type wardgate answers with.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// The longest id the FHIR `id` datatype allows.
pub const MAX_ID_LEN: usize = 64;

/// Whether `id` follows the FHIR `id` grammar: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// A table (index: byte) of the ASCII letters and digits and `extra`: the character sets of
/// the FHIR grammars (tokens, codes, URIs), checked in one pass over a value's bytes.
pub const fn byte_table(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_fhir_grammar() {
        for good in ["123", "edge-pt-obrien", "a.b-C9", &"x".repeat(64)] {
            assert!(is_valid_id(good), "{good} should be a valid id");
        }
        for bad in [
            "",
            "a b",
            "1'--",
            "a/b",
            "../etc",
            "é",
            &"x".repeat(65),
            "a_b",
        ] {
            assert!(!is_valid_id(bad), "{bad} should be refused");
        }
    }
}
