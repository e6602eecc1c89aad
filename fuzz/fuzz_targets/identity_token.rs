//! Access token verification on hostile input: never panics, never accepts.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wardgate_identity::keys::{self, KeyRing};
use wardgate_identity::seal::DataKey;
use wardgate_identity::tokens::verify_uncached;

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        let data_key = DataKey::from_bytes(&[7u8; 32]).expect("key");
        let record = keys::generate(&data_key, 0, 0).expect("generate");
        KeyRing::from_records(&[record], &data_key).expect("ring")
    })
}

fuzz_target!(|input: &str| {
    // Nothing but a token signed by the ring's key may pass; the fuzzer cannot forge one.
    assert!(verify_uncached(ring(), "https://wardgate.test", input).is_err());
});
