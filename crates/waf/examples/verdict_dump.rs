//! Print every verdict of a request set, one line per request, for diffing two versions of the
//! engine (a speed change must not change a single verdict):
//!
//! ```sh
//! cargo run --release -p wardgate-waf --example verdict_dump -- \
//!     testdata/fhir /work/shared/corpora/waf/dev/*.jsonl > /tmp/verdicts-after.txt
//! diff /tmp/verdicts-before.txt /tmp/verdicts-after.txt
//! ```
//!
//! Each request is inspected at paranoia 1 and 4, as routed and as if on a FHIR route; a line
//! holds the score and every hit (rule, score, location, form, excerpt), in verdict order.

use std::fmt::Write as _;
use std::path::Path;

use wardgate_waf::corpus::{self, Record};
use wardgate_waf::{Engine, EngineConfig, Verdict};

fn render(verdict: &Verdict) -> String {
    let mut line = format!(
        "{} {:?} complete={}",
        verdict.score, verdict.action, verdict.complete
    );
    for hit in &verdict.hits {
        let _ = write!(
            line,
            " | {} {} {} {} {:?}",
            hit.rule,
            hit.score,
            hit.location,
            hit.variant.name(),
            hit.excerpt
        );
    }
    for issue in &verdict.fhir_issues {
        let _ = write!(line, " | fhir {issue:?}");
    }
    line
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::new(EngineConfig::default());
    for arg in std::env::args().skip(1) {
        let path = Path::new(&arg);
        let records: Vec<Record> = if path.is_dir() {
            corpus::clinical::load(path)?
        } else {
            corpus::read_jsonl(path)?
        };
        for record in &records {
            for (paranoia, fhir) in [(1, false), (4, false), (1, true), (4, true)] {
                let verdict = record.inspect(&engine, paranoia, fhir);
                println!(
                    "{} pl{paranoia} fhir={fhir} {}",
                    record.id,
                    render(&verdict)
                );
            }
        }
    }
    Ok(())
}
