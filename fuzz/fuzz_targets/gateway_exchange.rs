//! What the gateway reads from a request before any other phase: the target URI (path and
//! query parameter names for the exchange record) and a client certificate's identity.
//! Never panics; the record never holds a query value; a device identity always has a name
//! and a zone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_gateway::{DeviceIdentity, Exchange};

fuzz_target!(|data: &[u8]| {
    if let Ok(uri) = http::Uri::try_from(data) {
        let exchange = Exchange::begin(
            "fuzz".to_owned(),
            "127.0.0.1:1".parse().expect("a literal address"),
            None,
            (&http::Method::GET, &uri, http::Version::HTTP_11),
            1,
        );
        assert!(exchange.query_names.len() <= 32);
        for name in &exchange.query_names {
            assert!(!name.contains('=') && !name.contains('&'));
            assert!(name.chars().count() <= 64);
        }
        assert!(!exchange.path.contains('?'));
    }
    if let Ok(identity) = DeviceIdentity::from_der(data) {
        assert!(!identity.name.is_empty() && !identity.zone.is_empty());
    }
});
