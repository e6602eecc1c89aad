//! The security headers on every answer. The respond phase (`pipeline::respond`) sets them;
//! the header map of an upstream's answer is built with them already in it (`h1_client`),
//! copied from a map prepared once, so that respond finds them in place instead of hashing
//! and inserting five headers per answer.

use std::sync::LazyLock;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The headers and their values, built once (`from_static` checks its text again at each
/// call made at run time).
static SECURITY_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    // Clinical data must not be kept by browsers or shared caches.
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
];

/// How many headers the prepared map has room for without growing (an upstream's usual
/// answer has under ten).
const PREPARED_CAPACITY: usize = 24;

/// The security headers in a map with room for [`PREPARED_CAPACITY`] headers.
static PREPARED: LazyLock<HeaderMap> = LazyLock::new(|| {
    let mut headers = HeaderMap::with_capacity(PREPARED_CAPACITY);
    for (name, value) in &SECURITY_HEADERS {
        headers.insert(name.clone(), value.clone());
    }
    headers
});

/// A header map for an answer, holding the security headers, with room for `more` headers
/// besides them. A copy of a prepared map: nothing is hashed.
pub(crate) fn answer_headers(more: usize) -> HeaderMap {
    let mut headers = PREPARED.clone();
    if more > PREPARED_CAPACITY - SECURITY_HEADERS.len() {
        headers.reserve(more);
    }
    headers
}

/// Whether `name` is a security header: an answer's own value of it is replaced by ours.
pub(crate) fn is_security_header(name: &HeaderName) -> bool {
    SECURITY_HEADERS.iter().any(|(ours, _)| ours == name)
}

/// Give `headers` the security headers, each replacing whatever values the answer had of it,
/// unless it already holds exactly them (one value each, ours: a map from [`answer_headers`]
/// that nothing added another value of them to).
pub(crate) fn set(headers: &mut HeaderMap) {
    if holds_exactly_them(headers) {
        return;
    }
    for (name, value) in &SECURITY_HEADERS {
        headers.insert(name.clone(), value.clone());
    }
}

/// Whether each security header is in `headers` once, with our value: one look over the
/// entries (a comparison of names each) instead of a hash and an insert per header.
fn holds_exactly_them(headers: &HeaderMap) -> bool {
    let mut seen = [false; SECURITY_HEADERS.len()];
    for (name, value) in headers {
        if let Some(index) = SECURITY_HEADERS.iter().position(|(ours, _)| ours == name) {
            if seen[index] || *value != SECURITY_HEADERS[index].1 {
                return false;
            }
            seen[index] = true;
        }
    }
    seen == [true; SECURITY_HEADERS.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Vec<&'h [u8]> {
        headers.get_all(name).iter().map(|v| v.as_bytes()).collect()
    }

    #[test]
    fn every_answer_ends_with_each_security_header_once_with_our_value() {
        let mut prepared = answer_headers(3);
        prepared.append(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let mut ours_missing = HeaderMap::new();
        ours_missing.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        // An answer that sets its own values of some of them, with ours or instead of ours.
        let mut theirs = answer_headers(3);
        theirs.append(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        let mut theirs_alone = HeaderMap::new();
        theirs_alone.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        );
        let mut partly = answer_headers(3);
        partly.remove(header::REFERRER_POLICY);
        for mut headers in [prepared, ours_missing, theirs, theirs_alone, partly] {
            set(&mut headers);
            for (name, value) in &SECURITY_HEADERS {
                assert_eq!(values(&headers, name), [value.as_bytes()], "{name}");
            }
        }
    }

    #[test]
    fn a_prepared_map_is_left_as_it_is_and_has_room() {
        let headers = answer_headers(40);
        assert!(holds_exactly_them(&headers));
        assert!(headers.capacity() >= SECURITY_HEADERS.len() + 40);
        assert!(!holds_exactly_them(&HeaderMap::new()));
        assert!(is_security_header(&header::CACHE_CONTROL));
        assert!(!is_security_header(&header::CONTENT_TYPE));
    }
}
