//! Decoding: turning one input value into the distinct forms an application may end up seeing.
//!
//! Each decoder is a pure function that borrows when it has nothing to do. [`variants`] chains
//! them: the value as the application receives it ([`VariantKind::Raw`]), fully decoded
//! (percent, `%u`, overlong UTF-8, HTML entities and JS escapes, repeated until stable with a
//! small bound), normalised (NUL bytes, whitespace substitutes, fullwidth forms, paths) and
//! unwrapped from Base64 when that yields text. Every step is linear in its input and the
//! number of rounds is fixed, so decoding a hostile value costs a bounded multiple of its size.

pub mod base64;
pub mod entities;
pub mod escapes;
pub mod path;
pub mod percent;
pub mod text;
pub mod utf8;

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::detect::ascii::any_byte;
use percent::{PercentOptions, percent_decode};

/// Rounds of full decoding at most: enough for triple encoding, bounded against loops.
pub const MAX_ROUNDS: usize = 4;

/// Which form of an input value a detector saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VariantKind {
    /// As the application receives it (after its container's own decoding).
    Raw,
    /// Fully decoded: percent, `%u`, overlong UTF-8, HTML entities, JS escapes.
    Decoded,
    /// Decoded, then NUL bytes, whitespace substitutes, fullwidth forms and paths normalised.
    Normalised,
    /// Unwrapped from Base64.
    Base64,
}

impl VariantKind {
    /// The name shown in verdicts.
    pub fn name(self) -> &'static str {
        match self {
            VariantKind::Raw => "raw",
            VariantKind::Decoded => "decoded",
            VariantKind::Normalised => "normalised",
            VariantKind::Base64 => "base64",
        }
    }
}

/// One distinct form of an input value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant<'v> {
    /// Which form it is.
    pub kind: VariantKind,
    /// The text.
    pub text: Cow<'v, str>,
}

/// The distinct forms of one value (at most four, kept inline).
pub type Variants<'v> = SmallVec<[Variant<'v>; 4]>;

/// Encoding tricks decoding found: never legitimate in a request, so reported as anomalies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Anomalies {
    /// An overlong UTF-8 form (`%C0%AF`).
    pub overlong_utf8: bool,
    /// A NUL byte.
    pub nul_byte: bool,
    /// The decoding budget ran out; later forms were not produced.
    pub budget_exhausted: bool,
}

impl Anomalies {
    /// Both sets of anomalies.
    pub fn or(self, other: Anomalies) -> Anomalies {
        Anomalies {
            overlong_utf8: self.overlong_utf8 | other.overlong_utf8,
            nul_byte: self.nul_byte | other.nul_byte,
            budget_exhausted: self.budget_exhausted | other.budget_exhausted,
        }
    }

    /// Merge what another step found.
    pub fn merge(&mut self, other: Anomalies) {
        self.overlong_utf8 |= other.overlong_utf8;
        self.nul_byte |= other.nul_byte;
        self.budget_exhausted |= other.budget_exhausted;
    }
}

/// What [`variants`] should try beyond the common decoders.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// The value is a path: always normalise it as one.
    pub path_like: bool,
    /// Try unwrapping Base64.
    pub base64: bool,
}

/// The value an application receives from a percent-encoded input (query, form, path): one
/// round of percent-decoding, `+` as space where the format says so.
pub fn url_base(raw: &str, plus_as_space: bool) -> (Cow<'_, str>, Anomalies) {
    let options = PercentOptions {
        plus_as_space,
        iis_unicode: false,
    };
    match percent_decode(raw.as_bytes(), options) {
        Cow::Borrowed(_) => (Cow::Borrowed(raw), Anomalies::default()),
        Cow::Owned(bytes) => {
            let (text, overlong) = bytes_to_text(bytes);
            let anomalies = Anomalies {
                overlong_utf8: overlong,
                nul_byte: text.contains('\0'),
                budget_exhausted: false,
            };
            (Cow::Owned(text), anomalies)
        }
    }
}

fn bytes_to_text(bytes: Vec<u8>) -> (String, bool) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, false),
        Err(e) => {
            let bytes = e.into_bytes();
            let lenient = utf8::decode_lenient(&bytes);
            (lenient.text.into_owned(), lenient.overlong)
        }
    }
}

/// The distinct forms of `base` (see the module documentation), deduplicated, raw first.
///
/// `budget` is the number of bytes decoding may still produce for this request; it is reduced
/// by what is produced, and when it runs out the remaining forms are skipped.
pub fn variants<'v>(
    base: &'v str,
    options: DecodeOptions,
    budget: &mut usize,
    anomalies: &mut Anomalies,
) -> Variants<'v> {
    let mut out = Variants::new();
    out.push(Variant {
        kind: VariantKind::Raw,
        text: Cow::Borrowed(base),
    });
    // Printable ASCII without the byte any decoder starts at (`%`, `&`, `\\`): no decoder and
    // no text normalisation applies (one pass instead of one search per step); only the path
    // form and Base64 can differ.
    let bytes = base.as_bytes();
    // (`|`, not `||`: the test stays branch-free, so the scan is vectorised.)
    if !any_byte(bytes, |b| {
        !(0x20..=0x7E).contains(&b) | (b == b'%') | (b == b'&') | (b == b'\\')
    }) {
        if (options.path_like || has_double_dot(bytes))
            && let Cow::Owned(path) = path::normalise_path(base)
        {
            push_distinct(&mut out, VariantKind::Normalised, path, budget, anomalies);
        }
        if options.base64
            && looks_like_base64(base)
            && let Some(text) = base64::decode_printable(base)
        {
            push_distinct(&mut out, VariantKind::Base64, text, budget, anomalies);
        }
        return out;
    }
    if memchr::memchr(0, bytes).is_some() {
        anomalies.nul_byte = true;
    }
    let decoded = decode_fully(base, budget, anomalies);
    let normalised = {
        let normal = text::normalise_text(&decoded);
        anomalies.nul_byte |= normal.had_nul;
        let bytes = normal.text.as_bytes();
        let wants_path =
            options.path_like || has_double_dot(bytes) || memchr::memchr(b'\\', bytes).is_some();
        match (normal.text, wants_path) {
            (Cow::Borrowed(t), true) => match path::normalise_path(t) {
                Cow::Owned(p) => Some(p),
                Cow::Borrowed(_) => None,
            },
            (Cow::Borrowed(_), false) => None,
            (Cow::Owned(t), true) => Some(path::normalise_path(&t).into_owned()),
            (Cow::Owned(t), false) => Some(t),
        }
    };
    if let Cow::Owned(decoded) = decoded {
        push_distinct(&mut out, VariantKind::Decoded, decoded, budget, anomalies);
    }
    if let Some(normalised) = normalised {
        push_distinct(
            &mut out,
            VariantKind::Normalised,
            normalised,
            budget,
            anomalies,
        );
    }
    if options.base64 {
        // The value itself, or its decoded form when Base64 was percent-encoded on the way
        // (`Li4vZXRjL3Bhc3N3ZA%3D%3D` in a header, which is not URL-decoded as a whole).
        let decoded = out.iter().find(|v| v.kind == VariantKind::Decoded);
        let wrapped = [Some(base), decoded.map(|v| v.text.as_ref())]
            .into_iter()
            .flatten()
            .filter(|form| looks_like_base64(form))
            .find_map(base64::decode_printable);
        if let Some(text) = wrapped {
            push_distinct(&mut out, VariantKind::Base64, text, budget, anomalies);
        }
    }
    out
}

fn push_distinct(
    out: &mut Variants<'_>,
    kind: VariantKind,
    text: String,
    budget: &mut usize,
    anomalies: &mut Anomalies,
) {
    if out.iter().any(|v| v.text == text) {
        return;
    }
    if text.len() > *budget {
        anomalies.budget_exhausted = true;
        return;
    }
    *budget -= text.len();
    out.push(Variant {
        kind,
        text: Cow::Owned(text),
    });
}

fn has_double_dot(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'.', bytes).any(|i| bytes.get(i + 1) == Some(&b'.'))
}

/// Base64 of text mixes upper and lower case; all-lower or all-upper words and codes are not
/// decoded at all. Short mixed-case words (`McDonalds`) are tried too: they rarely decode to
/// printable text, which [`base64::decode_printable`] requires, while short payloads
/// (`DQpRVUlUDQo`, a mail command between line breaks) do.
fn looks_like_base64(value: &str) -> bool {
    if !(base64::MIN_LEN..=base64::MAX_LEN).contains(&value.len()) {
        return false;
    }
    let (mut upper, mut lower) = (false, false);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' => upper = true,
            b'a'..=b'z' => lower = true,
            b'0'..=b'9' | b'+' | b'/' | b'-' | b'_' | b'=' => {}
            _ => return false,
        }
    }
    upper && lower
}

/// Apply every decoder until the value no longer changes (at most [`MAX_ROUNDS`] rounds).
pub fn decode_fully<'v>(
    value: &'v str,
    budget: &mut usize,
    anomalies: &mut Anomalies,
) -> Cow<'v, str> {
    let mut current = Cow::Borrowed(value);
    for _ in 0..MAX_ROUNDS {
        match decode_round(&current, anomalies) {
            Some(next) if next.len() <= *budget => {
                *budget -= next.len();
                current = Cow::Owned(next);
            }
            Some(_) => {
                anomalies.budget_exhausted = true;
                break;
            }
            None => break,
        }
    }
    current
}

/// One round of every decoder; `None` when nothing changed.
fn decode_round(value: &str, anomalies: &mut Anomalies) -> Option<String> {
    // Cheap test first: every decoder starts at one of these bytes.
    memchr::memchr3(b'%', b'&', b'\\', value.as_bytes())?;
    let mut current: Cow<'_, str> = Cow::Borrowed(value);
    let options = PercentOptions {
        plus_as_space: false,
        iis_unicode: true,
    };
    let percent = match percent_decode(current.as_bytes(), options) {
        Cow::Owned(bytes) => Some(bytes),
        Cow::Borrowed(_) => None,
    };
    if let Some(bytes) = percent {
        let (text, overlong) = bytes_to_text(bytes);
        anomalies.overlong_utf8 |= overlong;
        current = Cow::Owned(text);
    }
    let entities = match entities::decode_entities(&current) {
        Cow::Owned(text) => Some(text),
        Cow::Borrowed(_) => None,
    };
    if let Some(text) = entities {
        current = Cow::Owned(text);
    }
    let escapes = match escapes::decode_escapes(&current) {
        Cow::Owned(text) => Some(text),
        Cow::Borrowed(_) => None,
    };
    if let Some(text) = escapes {
        current = Cow::Owned(text);
    }
    match current {
        Cow::Owned(text) => Some(text),
        Cow::Borrowed(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(base: &str, options: DecodeOptions) -> Vec<(VariantKind, String)> {
        let mut budget = 1 << 20;
        let mut anomalies = Anomalies::default();
        variants(base, options, &mut budget, &mut anomalies)
            .into_iter()
            .map(|v| (v.kind, v.text.into_owned()))
            .collect()
    }

    #[test]
    fn plain_values_have_one_form() {
        assert_eq!(
            forms("O'Brien", DecodeOptions::default()),
            vec![(VariantKind::Raw, "O'Brien".to_owned())]
        );
    }

    #[test]
    fn stacked_encodings_are_peeled_until_stable() {
        let f = forms("%253Cscript%253E", DecodeOptions::default());
        assert_eq!(f[1], (VariantKind::Decoded, "<script>".to_owned()));
        let f = forms("&amp;lt;img src=x&amp;gt;", DecodeOptions::default());
        assert_eq!(f[1].1, "<img src=x>");
        let f = forms("%5Cu003cscript%5Cu003e", DecodeOptions::default());
        assert_eq!(f[1].1, "<script>");
    }

    #[test]
    fn overlong_traversal_is_decoded_normalised_and_flagged() {
        let (base, mut anomalies) =
            url_base("%C0%AE%C0%AE%C0%AF%C0%AE%C0%AE%C0%AFetc%C0%AFpasswd", false);
        assert_eq!(base, "../../etc/passwd");
        assert!(anomalies.overlong_utf8);
        let mut budget = 1 << 20;
        let v = variants(&base, DecodeOptions::default(), &mut budget, &mut anomalies);
        assert_eq!(v.len(), 1, "already normal: ../ above the start is kept");
    }

    #[test]
    fn base64_text_is_unwrapped_and_nul_flagged() {
        let options = DecodeOptions {
            path_like: false,
            base64: true,
        };
        let f = forms("Li4vLi4vZXRjL3Bhc3N3ZA", options);
        assert_eq!(
            f.last(),
            Some(&(VariantKind::Base64, "../../etc/passwd".to_owned()))
        );

        let mut budget = 1 << 20;
        let mut anomalies = Anomalies::default();
        let (base, more) = url_base("a.php%00.jpg", false);
        anomalies.merge(more);
        let v = variants(&base, options, &mut budget, &mut anomalies);
        assert!(anomalies.nul_byte);
        assert_eq!(v.last().map(|v| v.text.as_ref()), Some("a.php.jpg"));
    }

    #[test]
    fn the_budget_bounds_what_decoding_produces() {
        let mut budget = 4;
        let mut anomalies = Anomalies::default();
        let v = variants(
            "%3Cscript%3E",
            DecodeOptions::default(),
            &mut budget,
            &mut anomalies,
        );
        assert_eq!(v.len(), 1);
        assert!(anomalies.budget_exhausted);
    }
}
