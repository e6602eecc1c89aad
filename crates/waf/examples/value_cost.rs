//! Judge one value, for the instruction count of one detector (or one detector set) on it
//! under callgrind:
//!
//! ```sh
//! cargo build --release -p wardgate-waf --example value_cost
//! valgrind --tool=callgrind --toggle-collect='value_cost::judge' \
//!     target/release/examples/value_cost header:user-agent 'Mozilla/5.0 (X11; Linux x86_64)' 3
//! ```
//!
//! Only `judge` is counted. It runs as many times as the third argument says (1 if absent);
//! the first call also pays one-time costs (the CPU-feature dispatch of `memchr`), so the
//! steady-state cost of one call is the count for 3 calls minus the count for 1, halved.
//! The first argument names what judges the value: a detector (`Sqli`, `Xss`, `Shell`, `Lfi`,
//! ... as [`Detector`] names them), `header:<name>` (the detectors of that header) or `value`
//! (every detector, as for a query value).

use wardgate_waf::detect::{self, Detector, Finding, Input, InputKind};

/// What judges the value.
#[derive(Clone, Copy)]
enum By<'a> {
    Detector(Detector),
    Header(&'a str),
    Value,
}

#[inline(never)]
fn judge(by: By<'_>, value: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let input = |kind, name| Input {
        kind,
        name,
        value,
        paranoia: 1,
    };
    match by {
        By::Detector(detector) => detect::detect_with(detector, value, 1, &mut findings),
        By::Header(name) => {
            detect::detect(&input(InputKind::HeaderValue, Some(name)), &mut findings)
        }
        By::Value => detect::detect(&input(InputKind::QueryValue, None), &mut findings),
    }
    findings
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: value_cost <Detector|header:NAME|value> VALUE [CALLS]";
    let named = args.next().ok_or(usage)?;
    let value = args.next().ok_or(usage)?;
    let calls: usize = args.next().map_or(Ok(1), |n| n.parse())?;
    let by = if let Some(name) = named.strip_prefix("header:") {
        By::Header(name)
    } else if named == "value" {
        By::Value
    } else {
        let detector = Detector::ALL
            .into_iter()
            .find(|d| format!("{d:?}") == named)
            .ok_or(usage)?;
        By::Detector(detector)
    };
    let mut found = 0;
    for _ in 0..calls {
        found = std::hint::black_box(judge(by, &value)).len();
    }
    println!("findings={found}");
    Ok(())
}
