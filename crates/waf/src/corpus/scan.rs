//! Counting a corpus run: detection and false positives, overall and per group.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Label, Record};
use crate::verdict::Verdict;

/// Counts for one group of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Attacks seen.
    pub attacks: u64,
    /// Attacks blocked.
    pub detected: u64,
    /// Benign requests seen.
    pub benign: u64,
    /// Benign requests blocked.
    pub false_positives: u64,
}

impl Tally {
    fn add(&mut self, label: Label, blocked: bool) {
        match label {
            Label::Attack => {
                self.attacks += 1;
                self.detected += u64::from(blocked);
            }
            Label::Benign => {
                self.benign += 1;
                self.false_positives += u64::from(blocked);
            }
        }
    }

    /// Blocked attacks / attacks (0 when there are none).
    pub fn detection(&self) -> f64 {
        ratio(self.detected, self.attacks)
    }

    /// Blocked benign requests / benign requests (0 when there are none).
    pub fn fp_rate(&self) -> f64 {
        ratio(self.false_positives, self.benign)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// One request the engine got wrong, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEntry {
    /// The record's id.
    pub id: String,
    /// Its source.
    pub source: String,
    /// Its category.
    pub category: String,
    /// Its placement.
    pub placement: String,
    /// The verdict's one-line explanation.
    pub explain: String,
}

/// The result of running the engine over corpora.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Everything.
    pub total: Tally,
    /// Per source.
    pub by_source: BTreeMap<String, Tally>,
    /// Per category (attacks) or `benign`.
    pub by_category: BTreeMap<String, Tally>,
    /// Per placement.
    pub by_placement: BTreeMap<String, Tally>,
    /// Attacks that passed.
    pub misses: Vec<ScanEntry>,
    /// Benign requests that were blocked.
    pub false_positives: Vec<ScanEntry>,
}

impl Scan {
    /// Count one request and its verdict (blocked = the score reaches the threshold).
    pub fn add(&mut self, record: &Record, verdict: &Verdict) {
        let blocked = verdict.reaches_threshold();
        self.total.add(record.label, blocked);
        for (map, key) in [
            (&mut self.by_source, &record.source),
            (&mut self.by_category, &record.category),
            (&mut self.by_placement, &record.placement),
        ] {
            map.entry(key.clone())
                .or_default()
                .add(record.label, blocked);
        }
        let wrong = match record.label {
            Label::Attack => (!blocked).then_some(&mut self.misses),
            Label::Benign => blocked.then_some(&mut self.false_positives),
        };
        if let Some(list) = wrong {
            list.push(ScanEntry {
                id: record.id.clone(),
                source: record.source.clone(),
                category: record.category.clone(),
                placement: record.placement.clone(),
                explain: verdict.explain(),
            });
        }
    }

    /// The machine-readable summary: `detection=0.9731 fp=0.0042 attacks=N benign=M`.
    pub fn summary_line(&self) -> String {
        format!(
            "detection={:.4} fp={:.4} attacks={} benign={}",
            self.total.detection(),
            self.total.fp_rate(),
            self.total.attacks,
            self.total.benign
        )
    }

    /// The per-source, per-category and per-placement tables, as aligned text.
    pub fn tables(&self) -> String {
        let mut out = String::new();
        for (title, map) in [
            ("source", &self.by_source),
            ("category", &self.by_category),
            ("placement", &self.by_placement),
        ] {
            let _ = writeln!(
                out,
                "{title:<16} {:>8} {:>8} {:>9} {:>8} {:>6} {:>7}",
                "attacks", "blocked", "detection", "benign", "fp", "fp-rate"
            );
            for (key, t) in map {
                let _ = writeln!(
                    out,
                    "{key:<16} {:>8} {:>8} {:>9.4} {:>8} {:>6} {:>7.4}",
                    t.attacks,
                    t.detected,
                    t.detection(),
                    t.benign,
                    t.false_positives,
                    t.fp_rate()
                );
            }
            out.push('\n');
        }
        out
    }
}
