//! Inspect a request set once, for instruction counts under callgrind:
//!
//! ```sh
//! cargo build --release -p wardgate-waf --example inspect_set
//! valgrind --tool=callgrind --toggle-collect='inspect_set::inspect_all' \
//!     target/release/examples/inspect_set clinical
//! ```
//!
//! Only `inspect_all` is counted (loading the corpus is not); divide the total instructions
//! by the number of requests it prints. The set is inspected once before (by `warm_up`, not
//! counted), so that one-time costs (the first call of a CPU-feature dispatch, the allocator's
//! first pages) do not land on a small set such as `typical`: the count is the steady state.
//! `--first-pass` after the set's name counts the first pass instead. Sets: `clinical` (testdata/fhir as requests),
//! `attacks` (the vendored WAF sample), `typical` (the four requests of the criterion
//! benchmark's `typical` group, with a client's headers), `typical:<name>` (one of them, e.g.
//! `typical:read`), or a path to a JSONL corpus.

use std::path::Path;

use wardgate_waf::corpus::{self, Record};
use wardgate_waf::{Engine, EngineConfig};

#[inline(never)]
fn inspect_all(engine: &Engine, records: &[Record]) -> usize {
    records
        .iter()
        .filter(|r| r.inspect(engine, 1, false).reaches_threshold())
        .count()
}

/// The uncounted pass before the counted one (a different body from `inspect_all`, so that the
/// two are never merged into one symbol).
#[inline(never)]
fn warm_up(engine: &Engine, records: &[Record]) -> u64 {
    records
        .iter()
        .map(|r| u64::from(r.inspect(engine, 1, false).score))
        .sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let which = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "clinical".to_owned());
    let first_pass = std::env::args().nth(2).as_deref() == Some("--first-pass");
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let records = match which.as_str() {
        "clinical" => corpus::clinical::load(&testdata.join("fhir"))?,
        "attacks" => {
            let mut all = Vec::new();
            for file in [
                "gotestwaf.jsonl",
                "libinjection-sample.jsonl",
                "patt-sample.jsonl",
            ] {
                all.extend(corpus::read_jsonl(&testdata.join("waf").join(file))?);
            }
            all
        }
        "typical" => {
            let clinical = corpus::clinical::load(&testdata.join("fhir"))?;
            let typical = corpus::clinical::typical(&clinical).ok_or("no typical requests")?;
            typical.into_iter().map(|(_, record)| record).collect()
        }
        one if one.starts_with("typical:") => {
            let clinical = corpus::clinical::load(&testdata.join("fhir"))?;
            let typical = corpus::clinical::typical(&clinical).ok_or("no typical requests")?;
            let name = &one["typical:".len()..];
            let (_, record) = typical
                .into_iter()
                .find(|(n, _)| *n == name)
                .ok_or("no typical request of that name")?;
            vec![record]
        }
        path => corpus::read_jsonl(Path::new(path))?,
    };
    let engine = Engine::new(EngineConfig::default());
    if !first_pass {
        std::hint::black_box(warm_up(&engine, &records));
    }
    let started = std::time::Instant::now();
    let blocked = inspect_all(&engine, &records);
    let elapsed = started.elapsed();
    println!(
        "requests={} blocked={} elapsed_us={} mean_ns={}",
        records.len(),
        blocked,
        elapsed.as_micros(),
        elapsed.as_nanos() / records.len().max(1) as u128
    );
    // Per-request wall time (best of 5), for the median and tail of the distribution.
    let mut timed: Vec<(u128, &str)> = records
        .iter()
        .map(|r| {
            let best = (0..5)
                .map(|_| {
                    let t = std::time::Instant::now();
                    std::hint::black_box(r.inspect(&engine, 1, false));
                    t.elapsed().as_nanos()
                })
                .min()
                .unwrap_or_default();
            (best, r.id.as_str())
        })
        .collect();
    timed.sort_unstable();
    let slowest: Vec<String> = timed
        .iter()
        .rev()
        .take(3)
        .map(|(ns, id)| format!("{id}={ns}"))
        .collect();
    let times: Vec<u128> = timed.iter().map(|(ns, _)| *ns).collect();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "median_ns={} p90_ns={} p99_ns={} max_ns={}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    println!("slowest_ns {}", slowest.join(" "));
    Ok(())
}
