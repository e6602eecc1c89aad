//! What the detectors said about values already judged in this request.
//!
//! Large bodies repeat themselves (a Bundle names `http://loinc.org` a hundred times), and a
//! hostile body can repeat its most expensive value thousands of times. The detectors see only
//! (kind, name, value, paranoia), so a value judged once need not be judged again: its findings
//! are replayed at the new location (exclusions and deduplication still apply there).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use crate::decode::{Anomalies, DecodeOptions, VariantKind};
use crate::detect::{AttackClass, InputKind};

/// Inputs a request has before values are remembered: small requests rarely repeat a value,
/// so they do not pay for hashing.
pub(super) const AFTER_INPUTS: usize = 32;
/// Values remembered at most per request.
const MAX_ENTRIES: usize = 4096;
/// Longer values are not remembered (they rarely repeat, and memory stays bounded).
const MAX_VALUE: usize = 4096;

/// One finding of a judged value, with its excerpt already cut.
#[derive(Debug, Clone)]
pub(super) struct Judged {
    pub class: AttackClass,
    pub rule: &'static str,
    pub score: u16,
    pub excerpt: String,
    pub variant: VariantKind,
}

/// A judged value and what came of it.
#[derive(Debug)]
pub(super) struct Judgement {
    pub findings: Vec<Judged>,
    pub anomalies: Anomalies,
}

struct Entry {
    kind: InputKind,
    name: Option<String>,
    value: String,
    options: (bool, bool),
    judgement: Judgement,
}

/// The values judged so far in one request.
#[derive(Default)]
pub(super) struct Memo {
    hasher: RandomState,
    entries: HashMap<u64, Vec<Entry>>,
    len: usize,
}

impl Memo {
    fn key(&self, kind: InputKind, name: Option<&str>, value: &str, options: DecodeOptions) -> u64 {
        self.hasher
            .hash_one((kind, name, value, options.path_like, options.base64))
    }

    /// What was found the last time this value was judged as this kind of input.
    pub(super) fn get(
        &self,
        kind: InputKind,
        name: Option<&str>,
        value: &str,
        options: DecodeOptions,
    ) -> Option<&Judgement> {
        if value.len() > MAX_VALUE {
            return None;
        }
        let key = self.key(kind, name, value, options);
        self.entries.get(&key)?.iter().find_map(|e| {
            (e.kind == kind
                && e.name.as_deref() == name
                && e.value == value
                && e.options == (options.path_like, options.base64))
                .then_some(&e.judgement)
        })
    }

    /// Remember a judgement (while there is room).
    pub(super) fn put(
        &mut self,
        kind: InputKind,
        name: Option<&str>,
        value: &str,
        options: DecodeOptions,
        judgement: Judgement,
    ) {
        if value.len() > MAX_VALUE || self.len >= MAX_ENTRIES {
            return;
        }
        let key = self.key(kind, name, value, options);
        self.len += 1;
        self.entries.entry(key).or_default().push(Entry {
            kind,
            name: name.map(str::to_owned),
            value: value.to_owned(),
            options: (options.path_like, options.base64),
            judgement,
        });
    }
}
