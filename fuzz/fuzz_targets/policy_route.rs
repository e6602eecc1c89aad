//! Route resolution on arbitrary request paths against the default policy: never panics,
//! and whatever resolves is in normal form and inside the department's prefix.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wardgate_policy::Policy;

static POLICY: LazyLock<Option<Policy>> =
    LazyLock::new(|| Policy::hospital_default().ok().map(|v| v.policy));

fuzz_target!(|data: &[u8]| {
    let Some(policy) = POLICY.as_ref() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (method, path) = text.split_once(' ').unwrap_or(("GET", text));
    if let Some(resolved) = policy.route(method, path) {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        assert!(wardgate_policy::is_normal_path(path));
        assert!(path.starts_with(&resolved.department.prefix));
    }
});
