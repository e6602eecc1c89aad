//! The whole decoding chain: never panics, stays within its budget, forms are distinct.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_waf::decode::{self, Anomalies, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = std::str::from_utf8(rest) else {
        return;
    };
    let (base, mut anomalies) = decode::url_base(input, flags & 1 != 0);
    let options = DecodeOptions {
        path_like: flags & 2 != 0,
        base64: flags & 4 != 0,
    };
    let start = 4 * input.len() + 64;
    let mut budget = start;
    let mut more = Anomalies::default();
    let forms = decode::variants(&base, options, &mut budget, &mut more);
    anomalies.merge(more);
    assert!(!forms.is_empty() && forms.len() <= 4);
    let produced: usize = forms.iter().skip(1).map(|f| f.text.len()).sum();
    assert!(produced <= start);
    for (i, a) in forms.iter().enumerate() {
        assert!(
            forms[..i].iter().all(|b| b.text != a.text),
            "forms are distinct"
        );
    }
});
