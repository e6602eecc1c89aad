//! What the detectors said about values already judged in this request.
//!
//! Requests repeat values: a Quantity's `unit` and `code` (`g/dL`), a coding's `display` and
//! its concept's `text`, `http://loinc.org` a hundred times in a Bundle; a hostile body can
//! repeat its most expensive value thousands of times. A value judged once is not judged again:
//! its findings are replayed at the new location, where allow rules, exclusions and the
//! per-input deduplication still apply.
//!
//! Replaying gives what judging again would give, because a judgement depends only on what is
//! keyed here or fixed for the request:
//! - the value and its decode options (which forms decoding produces);
//! - how the detectors read the input ([`JudgedAs`]: its kind, and a header's detector set;
//!   no other name is read);
//! - the route's paranoia level (one per request);
//! - the request's decoding budget. Decoding a value takes the same bytes from the budget each
//!   time and yields the same forms whenever what is left covers them, and fewer when it does
//!   not. So a judgement is remembered only when decoding stayed within the budget, with the
//!   bytes it took (its charge); it is replayed only when the budget left still covers the
//!   charge, which is then taken again, as judging again would take it. Otherwise the value is
//!   judged again. Near the decoding limit the verdict is the same as without the memo.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::ops::Range;

use smallvec::SmallVec;

use crate::decode::{Anomalies, DecodeOptions, VariantKind};
use crate::detect::{AttackClass, JudgedAs};

/// Inputs a request has before values outside a JSON or XML document are remembered: a small
/// request's URL and headers rarely repeat a value, so they do not pay for the copy.
pub(super) const AFTER_INPUTS: usize = 32;
/// Values remembered, and bytes of them, kept in the request's own state before the memo asks
/// the allocator for room: a small body's values fit (a growing buffer would be reallocated
/// several times per request, which costs more than judging a value again).
const INLINE_ENTRIES: usize = 16;
const INLINE_TEXT: usize = 1024;
/// Values remembered before they are indexed by hash: a request's first values are found
/// faster by comparing their lengths one by one than by hashing each value.
const UNINDEXED: usize = 32;
/// Values remembered at most per request.
const MAX_ENTRIES: usize = 4096;
/// Longer values are not remembered (they rarely repeat, and memory stays bounded).
const MAX_VALUE: usize = 4096;
/// The end of a chain of entries with one hash.
const NO_ENTRY: u32 = u32::MAX;

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
    /// What the detectors found, in the order they found it.
    pub findings: Vec<Judged>,
    /// What decoding found in the value (never an exhausted budget: see the module doc).
    pub anomalies: Anomalies,
    /// The bytes of the decoding budget that judging the value took.
    pub charge: usize,
}

struct Entry {
    judged_as: JudgedAs,
    options: (bool, bool),
    /// Where the value is in [`Memo::text`].
    value: Range<usize>,
    judgement: Judgement,
    /// The entry remembered before this one with the same hash (once indexed).
    same_hash: u32,
}

/// The values judged so far in one request.
#[derive(Default)]
pub(super) struct Memo {
    /// Every remembered value, one after the other (one buffer, not one string per value).
    text: SmallVec<[u8; INLINE_TEXT]>,
    entries: SmallVec<[Entry; INLINE_ENTRIES]>,
    /// From the [`UNINDEXED`]th value on: the last entry of each hash.
    index: Option<Index>,
}

struct Index {
    hasher: RandomState,
    last: HashMap<u64, u32>,
}

impl Index {
    fn hash(&self, judged_as: JudgedAs, value: &[u8], options: (bool, bool)) -> u64 {
        self.hasher.hash_one((judged_as, options, value))
    }
}

impl Memo {
    /// What was found the last time this value was judged as this input.
    pub(super) fn get(
        &self,
        judged_as: JudgedAs,
        value: &str,
        options: DecodeOptions,
    ) -> Option<&Judgement> {
        if value.len() > MAX_VALUE {
            return None;
        }
        let options = (options.path_like, options.base64);
        let same = |e: &Entry| {
            e.value.len() == value.len()
                && e.judged_as == judged_as
                && e.options == options
                && self.text.get(e.value.clone()) == Some(value.as_bytes())
        };
        let found = match &self.index {
            None => self.entries.iter().find(|e| same(e)),
            Some(index) => {
                let hash = index.hash(judged_as, value.as_bytes(), options);
                let mut at = *index.last.get(&hash)?;
                loop {
                    let entry = self.entries.get(at as usize)?;
                    if same(entry) {
                        break Some(entry);
                    }
                    at = entry.same_hash;
                }
            }
        };
        found.map(|e| &e.judgement)
    }

    /// Remember a judgement (while there is room).
    pub(super) fn put(
        &mut self,
        judged_as: JudgedAs,
        value: &str,
        options: DecodeOptions,
        judgement: Judgement,
    ) {
        if value.len() > MAX_VALUE || self.entries.len() >= MAX_ENTRIES {
            return;
        }
        let start = self.text.len();
        self.text.extend_from_slice(value.as_bytes());
        self.entries.push(Entry {
            judged_as,
            options: (options.path_like, options.base64),
            value: start..self.text.len(),
            judgement,
            same_hash: NO_ENTRY,
        });
        if self.entries.len() >= UNINDEXED {
            // The first time, every entry so far; then only the new one.
            let from = if self.index.is_none() {
                0
            } else {
                self.entries.len() - 1
            };
            let index = self.index.get_or_insert_with(|| Index {
                hasher: RandomState::new(),
                last: HashMap::new(),
            });
            for (slot, entry) in self.entries.iter_mut().enumerate().skip(from) {
                let value = self.text.get(entry.value.clone()).unwrap_or_default();
                let hash = index.hash(entry.judged_as, value, entry.options);
                let slot = u32::try_from(slot).unwrap_or(NO_ENTRY);
                entry.same_hash = index.last.insert(hash, slot).unwrap_or(NO_ENTRY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::InputKind;

    fn judgement(charge: usize) -> Judgement {
        Judgement {
            findings: Vec::new(),
            anomalies: Anomalies::default(),
            charge,
        }
    }

    #[test]
    fn values_are_found_by_value_options_and_how_they_are_judged() {
        let text = DecodeOptions {
            path_like: false,
            base64: true,
        };
        let path = DecodeOptions {
            path_like: true,
            base64: false,
        };
        let json = JudgedAs::of(InputKind::JsonString, Some("unit"));
        let agent = JudgedAs::of(InputKind::HeaderValue, Some("user-agent"));
        let accept = JudgedAs::of(InputKind::HeaderValue, Some("accept"));
        // Past UNINDEXED, so that both the scan and the index answer.
        let mut memo = Memo::default();
        for i in 0..100 {
            let value = format!("v{i}");
            memo.put(json, &value, text, judgement(i));
            memo.put(agent, &value, text, judgement(1000 + i));
            let charge =
                |judged_as, options| memo.get(judged_as, &value, options).map(|j| j.charge);
            assert_eq!(charge(json, text), Some(i), "{value}");
            assert_eq!(
                charge(JudgedAs::of(InputKind::JsonString, Some("code")), text),
                Some(i)
            );
            assert_eq!(charge(agent, text), Some(1000 + i));
            assert_eq!(charge(accept, text), None);
            assert_eq!(charge(json, path), None);
            assert_eq!(
                charge(JudgedAs::of(InputKind::QueryValue, None), text),
                None
            );
            assert!(memo.get(json, &format!("{value}x"), text).is_none());
        }
        for i in 0..100 {
            let value = format!("v{i}");
            assert_eq!(memo.get(json, &value, text).map(|j| j.charge), Some(i));
        }
        assert!(memo.index.is_some());
    }
}
